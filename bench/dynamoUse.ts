/**
 * DynamoDB use per table and per index, from the requests the offline system sends to dynalite
 * (bench/pipelineServer.ts reads each request body). Index writes are derived the way DynamoDB
 * bills them (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/GSI.html#GSI.ThroughputConsiderations.Writes):
 *  - a put of an item with the index's keys writes the index once;
 *  - an update that changes an index key attribute deletes the old index entry and puts a new
 *    one (two writes); one that changes only projected attributes writes once; otherwise none.
 * Write units are ceil(item size / 1 KB): the size of the item as last put, or of the projected
 * part for an index (an item never seen put, like the seeded catalogue, counts as under 1 KB).
 * Index writes are also counted per key "family" (`PAID#3` -> `PAID`), the load one shard of
 * that family takes per order when orders spread evenly over the shards.
 */
import type { LocalTable } from "../local/topology";

export interface TableUse {
  writes: number;
  writeUnits: number;
  reads: number;
  /** Sizes (bytes) of the items put. */
  putBytes: number[];
}

export interface IndexUse {
  writes: number;
  writeUnits: number;
  /** Write units per hash-key family (the value with any `#<shard>` suffix removed). */
  unitsByFamily: Record<string, number>;
  /** Whether the hash-key values carried a `#<shard>` suffix (a write-sharded index). */
  sharded: boolean;
}

export interface DynamoUse {
  tables: Record<string, TableUse>;
  /** Keyed `<table>/<index>`. */
  indexes: Record<string, IndexUse>;
}

export const freshDynamoUse = (): DynamoUse => ({ tables: {}, indexes: {} });

type AttributeValue = Record<string, unknown>;
export type Item = Record<string, AttributeValue>;

/** DynamoDB's item size: attribute names plus values (strings as UTF-8, numbers about 1 byte per 2 digits). */
export function attributeBytes(v: AttributeValue): number {
  if ("S" in v) return Buffer.byteLength(String(v.S));
  if ("N" in v) return Math.ceil(String(v.N).replace(/^-/, "").length / 2) + 1;
  if ("B" in v) return Buffer.byteLength(String(v.B), "base64");
  if ("BOOL" in v || "NULL" in v) return 1;
  if ("M" in v) return 3 + itemBytes(v.M as Item);
  if ("L" in v) return 3 + (v.L as AttributeValue[]).reduce((a, e) => a + 1 + attributeBytes(e), 0);
  if ("SS" in v) return (v.SS as string[]).reduce((a, e) => a + Buffer.byteLength(e), 0);
  return 0;
}

export function itemBytes(item: Item): number {
  return Object.entries(item).reduce((a, [name, v]) => a + Buffer.byteLength(name) + attributeBytes(v), 0);
}

const units = (bytes: number) => Math.max(1, Math.ceil(bytes / 1024));
const SHARD_SUFFIX = /#\d+$/;

/** Top-level attribute names an UpdateExpression's SET and REMOVE clauses touch. */
export function updatedAttributes(expression: string, names: Record<string, string> = {}): string[] {
  const out = new Set<string>();
  for (const clause of expression.split(/\b(?=SET|REMOVE|ADD|DELETE)\b/)) {
    const body = clause.replace(/^(SET|REMOVE|ADD|DELETE)\s+/, "");
    for (const part of body.split(",")) {
      const path = part.split("=")[0].trim().split(/\s+/)[0];
      const top = path.split(/[.[]/)[0];
      if (top) out.add(names[top] ?? top);
    }
  }
  return [...out];
}

function projected(item: Item, index: LocalTable["globalSecondaryIndexes"][number], table: LocalTable): Item {
  if (index.projectionType === "ALL") return item;
  const keep = new Set(
    [table.hashKey, table.rangeKey, index.hashKey, index.rangeKey].filter(Boolean) as string[],
  );
  if (index.projectionType === "INCLUDE") for (const a of index.nonKeyAttributes ?? []) keep.add(a);
  return Object.fromEntries(Object.entries(item).filter(([k]) => keep.has(k)));
}

/** Accounts one request (operation name and JSON body) against `use`. */
export function dynamoAccount(
  use: DynamoUse,
  tables: readonly LocalTable[],
  items: Map<string, Item>,
  operation: string,
  body: Record<string, unknown>,
): void {
  const tableName = body.TableName as string | undefined;
  if (operation === "BatchGetItem") {
    for (const [name, req] of Object.entries(
      (body.RequestItems ?? {}) as Record<string, { Keys: unknown[] }>,
    )) {
      tableUse(use, name).reads += req.Keys.length;
    }
    return;
  }
  if (!tableName) return;
  const table = tables.find((t) => t.name === tableName);
  const t = tableUse(use, tableName);
  if (["GetItem", "Query", "Scan"].includes(operation)) {
    t.reads += 1;
    return;
  }
  if (!table || !["PutItem", "UpdateItem", "DeleteItem"].includes(operation)) return;
  const keyOf = (item: Item) =>
    `${tableName}|${JSON.stringify(item[table.hashKey])}|${table.rangeKey ? JSON.stringify(item[table.rangeKey]) : ""}`;

  if (operation === "PutItem") {
    const item = body.Item as Item;
    const bytes = itemBytes(item);
    t.writes += 1;
    t.writeUnits += units(bytes);
    t.putBytes.push(bytes);
    for (const index of table.globalSecondaryIndexes) {
      if (!(index.hashKey in item)) continue;
      indexWrite(
        use,
        tableName,
        index.name,
        item[index.hashKey],
        units(itemBytes(projected(item, index, table))),
      );
    }
    items.set(keyOf(item), item);
    return;
  }
  const key = body.Key as Item;
  const known = items.get(keyOf(key));
  const bytes = known ? itemBytes(known) : 0;
  t.writes += 1;
  t.writeUnits += units(bytes);
  if (operation === "DeleteItem" || !known) return;
  const names = (body.ExpressionAttributeNames ?? {}) as Record<string, string>;
  const values = (body.ExpressionAttributeValues ?? {}) as Item;
  const touched = updatedAttributes(String(body.UpdateExpression ?? ""), names);
  // New values of directly SET top-level attributes (`a = :v`), to follow index keys.
  const after: Item = { ...known };
  for (const part of String(body.UpdateExpression ?? "")
    .replace(/^SET\s+/, "")
    .split(",")) {
    const m = /^\s*([#\w]+)\s*=\s*(:\w+)\s*$/.exec(part);
    if (m) after[names[m[1]] ?? m[1]] = values[m[2]];
  }
  for (const index of table.globalSecondaryIndexes) {
    if (!(index.hashKey in known)) continue;
    const size = units(itemBytes(projected(after, index, table)));
    const keyChanged = [index.hashKey, index.rangeKey].some((k) => k !== undefined && touched.includes(k));
    const projectedChanged =
      index.projectionType === "ALL" ||
      touched.some((a) => index.projectionType === "INCLUDE" && (index.nonKeyAttributes ?? []).includes(a));
    if (keyChanged) {
      indexWrite(use, tableName, index.name, known[index.hashKey], size);
      indexWrite(use, tableName, index.name, after[index.hashKey], size);
    } else if (projectedChanged) indexWrite(use, tableName, index.name, after[index.hashKey], size);
  }
  items.set(keyOf(key), after);
}

function tableUse(use: DynamoUse, name: string): TableUse {
  return (use.tables[name] ??= { writes: 0, writeUnits: 0, reads: 0, putBytes: [] });
}

function indexWrite(
  use: DynamoUse,
  table: string,
  index: string,
  hashValue: AttributeValue | undefined,
  wcu: number,
) {
  const u = (use.indexes[`${table}/${index}`] ??= {
    writes: 0,
    writeUnits: 0,
    unitsByFamily: {},
    sharded: false,
  });
  u.writes += 1;
  u.writeUnits += wcu;
  const value = String(hashValue?.S ?? "?");
  if (SHARD_SUFFIX.test(value)) u.sharded = true;
  const f = value.replace(SHARD_SUFFIX, "");
  u.unitsByFamily[f] = (u.unitsByFamily[f] ?? 0) + wcu;
}
