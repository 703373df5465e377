/**
 * DynamoDB: dynalite (in memory, or LevelDB on disk with `dataDir`), with the registered tables.
 * dynalite has no TransactWriteItems (design §6): the handlers reserve stock with single-item
 * conditional writes, which dynalite serialises per item like DynamoDB does.
 */
import * as http from "node:http";
import { isDeepStrictEqual } from "node:util";
import {
  CreateTableCommand,
  DeleteItemCommand,
  DescribeTableCommand,
  DynamoDBClient,
  PutItemCommand,
  ScanCommand,
  type AttributeValue,
  type CreateTableCommandInput,
} from "@aws-sdk/client-dynamodb";
import { close, listen, sleep } from "./net";
import type { LocalTable } from "./topology";

// eslint-disable-next-line @typescript-eslint/no-require-imports
const dynalite = require("dynalite") as (opts: Record<string, unknown>) => http.Server;

export interface LocalDynamo {
  endpoint: string;
  client: DynamoDBClient;
  /** Items in a table (a full scan; for tests and the start-up banner). */
  count(table: string): Promise<number>;
  scanAll(table: string): Promise<Record<string, AttributeValue>[]>;
  /** Index entries that disagreed with their base item at start-up, and were repaired (data dir only). */
  repaired: IndexRepair[];
  stop(): Promise<void>;
}

export interface IndexRepair {
  table: string;
  index: string;
  key: Record<string, AttributeValue>;
  /** stale: the index held another version of the item (or one of a deleted item); missing: it held none. */
  kind: "stale" | "missing";
}

export async function startDynamo(opts: {
  tables: LocalTable[];
  dataDir?: string;
  port?: number;
  credentials: { accessKeyId: string; secretAccessKey: string };
  region: string;
}): Promise<LocalDynamo> {
  const server = dynalite({ path: opts.dataDir, createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  const port = await listen(server, opts.port ?? 0);
  const endpoint = `http://127.0.0.1:${port}`;
  const client = new DynamoDBClient({
    endpoint,
    region: opts.region,
    credentials: opts.credentials,
    maxAttempts: 1,
  });

  for (const table of opts.tables) await ensureTable(client, table);

  const scanAll = (table: string) => scanTable(client, table);
  const repaired: IndexRepair[] = [];
  if (opts.dataDir) {
    for (const table of opts.tables) repaired.push(...(await repairIndexes(client, table)));
  }

  return {
    endpoint,
    client,
    scanAll,
    repaired,
    count: async (table) => (await scanAll(table)).length,
    stop: async () => {
      client.destroy();
      await close(server);
    },
  };
}

export function createTableInput(t: LocalTable): CreateTableCommandInput {
  return {
    TableName: t.name,
    BillingMode: "PAY_PER_REQUEST",
    AttributeDefinitions: t.attributes.map((a) => ({ AttributeName: a.name, AttributeType: a.type })),
    KeySchema: [
      { AttributeName: t.hashKey, KeyType: "HASH" },
      ...(t.rangeKey ? [{ AttributeName: t.rangeKey, KeyType: "RANGE" as const }] : []),
    ],
    GlobalSecondaryIndexes: t.globalSecondaryIndexes.length
      ? t.globalSecondaryIndexes.map((g) => ({
          IndexName: g.name,
          KeySchema: [
            { AttributeName: g.hashKey, KeyType: "HASH" as const },
            ...(g.rangeKey ? [{ AttributeName: g.rangeKey, KeyType: "RANGE" as const }] : []),
          ],
          Projection: {
            ProjectionType: g.projectionType,
            NonKeyAttributes: g.projectionType === "INCLUDE" ? g.nonKeyAttributes : undefined,
          },
        }))
      : undefined,
  };
}

/** Creates the table unless it exists (a `--data-dir` store keeps tables between runs). */
async function ensureTable(client: DynamoDBClient, t: LocalTable): Promise<void> {
  try {
    await client.send(new CreateTableCommand(createTableInput(t)));
  } catch (err) {
    if ((err as Error).name !== "ResourceInUseException") throw err;
  }
  for (let i = 0; i < 200; i++) {
    const d = await client.send(new DescribeTableCommand({ TableName: t.name }));
    if (d.Table?.TableStatus === "ACTIVE") return;
    await sleep(10);
  }
  throw new Error(`Table ${t.name} did not become ACTIVE`);
}

async function scanTable(
  client: DynamoDBClient,
  table: string,
  indexName?: string,
): Promise<Record<string, AttributeValue>[]> {
  const items: Record<string, AttributeValue>[] = [];
  let start: Record<string, AttributeValue> | undefined;
  do {
    const page = await client.send(
      new ScanCommand({ TableName: table, IndexName: indexName, ExclusiveStartKey: start }),
    );
    items.push(...(page.Items ?? []));
    start = page.LastEvaluatedKey;
  } while (start);
  return items;
}

/**
 * dynalite writes an item's index entries first and the item itself after, as separate LevelDB
 * writes (node_modules/dynalite/actions/putItem.js, updateItem.js). A process killed in between
 * leaves an index that disagrees with its base item (design §9): `GET /orders/{id}` says
 * PROCESSING while `?status=PAID` lists the order. The caller never got an answer for that write,
 * so the base item is the truth (as in DynamoDB, an unacknowledged write may not have happened).
 *
 * Repair through the API, while nothing else runs: writing a stale entry's version as the item
 * makes dynalite drop the base version's entries and keep the stale ones; writing the base item
 * back (or deleting it if there is none) then moves that index to it. With INCLUDE projections a
 * stale entry of one index doesn't carry another index's keys (a byCreatedAt entry has no
 * statusShard), so each index's torn entry is repaired in its own pass: a torn status change takes
 * two. A missing entry is restored by writing the base item again. Returns what was repaired.
 */
export async function repairIndexes(client: DynamoDBClient, table: LocalTable): Promise<IndexRepair[]> {
  if (table.globalSecondaryIndexes.length === 0) return [];
  const keyNames = [table.hashKey, ...(table.rangeKey ? [table.rangeKey] : [])];
  const keyOf = (item: Record<string, AttributeValue>) =>
    Object.fromEntries(keyNames.map((k) => [k, item[k]])) as Record<string, AttributeValue>;
  const id = (item: Record<string, AttributeValue>) => JSON.stringify(keyNames.map((k) => item[k]));
  const base = new Map((await scanTable(client, table.name)).map((i) => [id(i), i]));

  const repairs: IndexRepair[] = [];
  for (const index of table.globalSecondaryIndexes) {
    const attrs = (item: Record<string, AttributeValue>) =>
      index.projectionType === "ALL"
        ? item
        : Object.fromEntries(
            [
              ...keyNames,
              index.hashKey,
              ...(index.rangeKey ? [index.rangeKey] : []),
              ...(index.nonKeyAttributes ?? []),
            ]
              .filter((a) => item[a] !== undefined)
              .map((a) => [a, item[a]]),
          );
    const indexed = (item: Record<string, AttributeValue>) =>
      item[index.hashKey] !== undefined && (!index.rangeKey || item[index.rangeKey] !== undefined);
    const seen = new Set<string>();
    for (const entry of await scanTable(client, table.name, index.name)) {
      const truth = base.get(id(entry));
      seen.add(id(entry));
      if (truth && isDeepStrictEqual(attrs(truth), entry)) continue;
      await client.send(new PutItemCommand({ TableName: table.name, Item: entry }));
      if (truth) await client.send(new PutItemCommand({ TableName: table.name, Item: truth }));
      else await client.send(new DeleteItemCommand({ TableName: table.name, Key: keyOf(entry) }));
      repairs.push({ table: table.name, index: index.name, key: keyOf(entry), kind: "stale" });
    }
    for (const [key, item] of base) {
      if (seen.has(key) || !indexed(item)) continue;
      await client.send(new PutItemCommand({ TableName: table.name, Item: item }));
      repairs.push({ table: table.name, index: index.name, key: keyOf(item), kind: "missing" });
    }
  }
  return repairs;
}
