import {
  DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  QueryCommand,
  UpdateItemCommand,
  type AttributeValue,
} from "@aws-sdk/client-dynamodb";
import { marshall, unmarshall } from "@aws-sdk/util-dynamodb";
import { ifConditionHolds } from "./errors";
import type { TransitionChanges } from "./status";
import type { Order, OrderStatus } from "./types";

/**
 * GSIs of the orders table, both write-sharded. A single hash-key value per listing (every order
 * under `entity = "ORDER"`, or five status values) put every write of every order on one index
 * partition, about 1,000 WCU/s
 * (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/bp-partition-key-design.html),
 * and a throttled GSI throttles the table's writes. Each order now lands in one of
 * `ORDER_LIST_SHARDS` hash-key values; a listing queries every shard and merges them.
 */
export const ORDER_INDEXES = {
  /** hash `listShard` ("ALL#<n>"), range `listSort`: every order, by age. */
  byCreatedAt: "byCreatedAt",
  /** hash `statusShard` ("<status>#<n>"), range `listSort`. */
  byStatus: "byStatus",
} as const;

/** The index key attributes the store writes beside the order (never returned to callers). */
export const ORDER_INDEX_KEYS = {
  listShard: "listShard",
  statusShard: "statusShard",
  /** `<createdAt>#<orderId>`: unique, so a merge across shards is a total order and a cursor exact. */
  listSort: "listSort",
} as const;

/**
 * Hash-key values per listing. A code constant, not a stack key: every function that writes an
 * order must agree on it. Raising it is safe (older orders sit in lower shards, which are still
 * read); lowering it hides the orders of the dropped shards from listings and the sweeper.
 * 16 shards carry 16,000 index WCU/s: byCreatedAt takes 5 WCU per order (every status write
 * rewrites its entry), so about 3,200 orders/s before one shard's partition binds (bench capacity).
 */
export const ORDER_LIST_SHARDS = 16;

/**
 * What the indexes project (INCLUDE): the list view and the sweeper's fields. Not the customer,
 * payment token or request hash: smaller index items, fewer index write units, no PII in the index.
 */
export const ORDER_LIST_ATTRIBUTES = [
  "status",
  "items",
  "total",
  "createdAt",
  "updatedAt",
  "failure",
  "chargeId",
  "notifiedAt",
] as const;

/** An order as the listing indexes hold it (see ORDER_LIST_ATTRIBUTES). */
export type ListedOrder = Pick<Order, "orderId" | (typeof ORDER_LIST_ATTRIBUTES)[number]>;

/** The shard of an order: FNV-1a of its id, so every writer computes the same one without a read. */
export function shardOf(orderId: string, shards: number = ORDER_LIST_SHARDS): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < orderId.length; i++) {
    hash ^= orderId.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash % shards;
}

export const listShardKey = (shard: number) => `ALL#${shard}`;
export const statusShardKey = (status: OrderStatus, shard: number) => `${status}#${shard}`;
export const listSortKey = (o: { createdAt: string; orderId: string }) => `${o.createdAt}#${o.orderId}`;

/** A listing position: the last order returned (its id, createdAt and the listing's hash key). */
export type OrderCursor = Record<string, string>;

export interface ListOrdersQuery {
  status?: OrderStatus;
  limit: number;
  startKey?: OrderCursor;
}

export interface OrderPage {
  items: ListedOrder[];
  lastKey?: OrderCursor;
}

/** One page of one shard, as a Query returns it. */
interface ShardPage<T> {
  items: T[];
  lastKey?: Record<string, AttributeValue>;
}

/**
 * Queries one shard from `startKey` (its own LastEvaluatedKey), at most `limit` items, every one
 * strictly beyond the merge's position in the merge's direction.
 */
export type ShardQuery<T> = (
  shard: number,
  limit: number,
  startKey: Record<string, AttributeValue> | undefined,
) => Promise<ShardPage<T>>;

/**
 * A k-way merge of the shards' sorted streams: the next `limit` items in `order` of `sortKey`,
 * and whether any remain. Sort keys are unique, so after emitting key K every shard has given
 * exactly its items up to K: a cursor holding K alone resumes every shard exactly.
 * An item is emitted only when every shard that may still hold items has a head to compare.
 *
 * Each read asks a shard for about its share of the page (ceil(limit / shards) + 2, never more
 * than is still missing), not the whole page: ids hash evenly over the shards, so one read per
 * shard usually covers the page, a shard that runs dry is refilled, and a page reads at most
 * `limit` plus one unused read per shard instead of `shards` x `limit`.
 */
export async function mergeShards<T>(args: {
  shards: number;
  limit: number;
  descending: boolean;
  sortKey: (item: T) => string;
  query: ShardQuery<T>;
}): Promise<{ items: T[]; more: boolean }> {
  const { limit, descending, sortKey, query } = args;
  const state = Array.from({ length: args.shards }, () => ({
    buffer: [] as T[],
    next: undefined as Record<string, AttributeValue> | undefined,
    done: false,
  }));
  const out: T[] = [];
  const share = Math.ceil(limit / state.length) + 2;
  const fill = async (i: number) => {
    const s = state[i];
    while (s.buffer.length === 0 && !s.done) {
      const page = await query(i, Math.max(1, Math.min(share, limit - out.length)), s.next);
      s.buffer = page.items;
      s.next = page.lastKey;
      s.done = page.lastKey === undefined;
    }
  };
  await Promise.all(state.map((_, i) => fill(i)));
  while (out.length < limit) {
    let best = -1;
    for (let i = 0; i < state.length; i++) {
      if (state[i].buffer.length === 0) continue;
      if (best < 0) best = i;
      else {
        const a = sortKey(state[i].buffer[0]);
        const b = sortKey(state[best].buffer[0]);
        if (descending ? a > b : a < b) best = i;
      }
    }
    if (best < 0) break;
    out.push(state[best].buffer.shift()!);
    if (out.length < limit) await fill(best);
  }
  return { items: out, more: state.some((s) => s.buffer.length > 0 || !s.done) };
}

/** The sweeper's view of the byStatus index: oldest first, across every shard. */
export interface OrderStatusSource {
  /** One page of orders with `status`, created before `before` (ISO), oldest first. */
  createdBefore(
    status: OrderStatus,
    before: string,
    startKey?: Record<string, unknown>,
  ): Promise<{ items: ListedOrder[]; lastKey?: Record<string, unknown> }>;
  /** One page of orders with `status`, created after `after` (ISO), oldest first. */
  createdAfter(
    status: OrderStatus,
    after: string,
    startKey?: Record<string, unknown>,
  ): Promise<{ items: ListedOrder[]; lastKey?: Record<string, unknown> }>;
  /** The whole order now (a consistent read of the base table): the index projects only a part. */
  get(orderId: string): Promise<Order | undefined>;
  /** How many orders have `status` now. */
  count(status: OrderStatus): Promise<number>;
}

/** The orders table. One AWS call per method. */
export interface OrderStore {
  get(orderId: string, options?: { consistent?: boolean }): Promise<Order | undefined>;
  /** Conditional put; false when an order with this id already exists (nothing written). */
  create(order: Order): Promise<boolean>;
  /**
   * Sets `status = to` (and the given changes) only if the current status is one of `from`.
   * Returns the order after the change, or undefined when the condition failed.
   * Use `transitionOrder` (status.ts) rather than calling this directly.
   */
  updateStatus(
    orderId: string,
    from: readonly OrderStatus[],
    to: OrderStatus,
    changes: TransitionChanges,
  ): Promise<Order | undefined>;
  /** Newest first across every shard of the listing's index (mergeShards). */
  list(query: ListOrdersQuery): Promise<OrderPage>;
  /**
   * Turns the given compensation flags of a FAILED order's `failure` to true (never back to
   * false, so concurrent compensations only add facts). Undefined if the order is not FAILED or
   * has no `failure` yet.
   */
  setFailureFlags(
    orderId: string,
    flags: { refunded?: true; restocked?: true; compensatedAt?: string },
    updatedAt: string,
  ): Promise<Order | undefined>;
  /** Sets notifiedAt (+ message id) once; false when it was already set. */
  markNotified(orderId: string, notifiedAt: string, messageId: string): Promise<boolean>;
}

/** An item without the index keys the store adds. */
function toOrder(item: Record<string, AttributeValue>): Order {
  const { listShard: _l, statusShard: _s, listSort: _o, ...order } = unmarshall(item);
  return order as Order;
}

function toListed(item: Record<string, AttributeValue>): ListedOrder {
  return toOrder(item) as ListedOrder;
}

/**
 * One shard of one index, newest or oldest first, strictly beyond `after` (a listSort value),
 * and not past `before` when given (ascending only: everything created before it).
 */
function shardQuery(
  client: DynamoDBClient,
  tableName: string,
  index: { name: string; hashKey: string; hashValue: (shard: number) => string },
  range: { descending: boolean; after?: string; before?: string },
): ShardQuery<ListedOrder> {
  const values: Record<string, AttributeValue> = {};
  let condition = "";
  if (range.descending) {
    if (range.after !== undefined) {
      condition = " AND #sort < :after";
      values[":after"] = { S: range.after };
    }
  } else if (range.before !== undefined) {
    // One range condition per Query: BETWEEN is inclusive, so the cursor's own item is dropped
    // below. `<createdAt>#<id>` sorts after `<createdAt>`: `<= before` keeps createdAt < before.
    condition = range.after !== undefined ? " AND #sort BETWEEN :after AND :before" : " AND #sort < :before";
    values[":before"] = { S: range.before };
    if (range.after !== undefined) values[":after"] = { S: range.after };
  } else if (range.after !== undefined) {
    condition = " AND #sort > :after";
    values[":after"] = { S: range.after };
  }
  return async (shard, limit, startKey) => {
    const out = await client.send(
      new QueryCommand({
        TableName: tableName,
        IndexName: index.name,
        KeyConditionExpression: `#pk = :pk${condition}`,
        // DynamoDB rejects a name the expression does not use.
        ExpressionAttributeNames: condition
          ? { "#pk": index.hashKey, "#sort": ORDER_INDEX_KEYS.listSort }
          : { "#pk": index.hashKey },
        ExpressionAttributeValues: { ...values, ":pk": { S: index.hashValue(shard) } },
        ScanIndexForward: !range.descending,
        Limit: limit,
        ExclusiveStartKey: startKey,
      }),
    );
    const items = (out.Items ?? [])
      .filter((i) => range.after === undefined || i[ORDER_INDEX_KEYS.listSort]?.S !== range.after)
      .map(toListed);
    return { items, lastKey: out.LastEvaluatedKey };
  };
}

/** The hash key of a status listing or of the all-orders listing. */
function listingIndex(status: OrderStatus | undefined) {
  return status === undefined
    ? { name: ORDER_INDEXES.byCreatedAt, hashKey: ORDER_INDEX_KEYS.listShard, hashValue: listShardKey }
    : {
        name: ORDER_INDEXES.byStatus,
        hashKey: ORDER_INDEX_KEYS.statusShard,
        hashValue: (shard: number) => statusShardKey(status, shard),
      };
}

export function dynamoOrderStore(
  client: DynamoDBClient,
  tableName: string,
  shards: number = ORDER_LIST_SHARDS,
): OrderStore {
  const key = (orderId: string) => ({ orderId: { S: orderId } });

  /** Runs a conditional update; undefined when the condition failed. */
  const conditionalUpdate = async (
    input: Omit<ConstructorParameters<typeof UpdateItemCommand>[0], "TableName" | "ReturnValues">,
  ): Promise<Order | undefined> => {
    const out = await ifConditionHolds(
      client.send(new UpdateItemCommand({ ...input, TableName: tableName, ReturnValues: "ALL_NEW" })),
    );
    return out?.Attributes ? toOrder(out.Attributes) : undefined;
  };

  return {
    async get(orderId, options = {}) {
      const out = await client.send(
        new GetItemCommand({
          TableName: tableName,
          Key: key(orderId),
          ConsistentRead: options.consistent === true,
        }),
      );
      return out.Item ? toOrder(out.Item) : undefined;
    },

    async create(order) {
      const out = await ifConditionHolds(
        client.send(
          new PutItemCommand({
            TableName: tableName,
            Item: marshall(
              {
                ...order,
                [ORDER_INDEX_KEYS.listShard]: listShardKey(shardOf(order.orderId, shards)),
                [ORDER_INDEX_KEYS.statusShard]: statusShardKey(order.status, shardOf(order.orderId, shards)),
                [ORDER_INDEX_KEYS.listSort]: listSortKey(order),
              },
              { removeUndefinedValues: true },
            ),
            ConditionExpression: "attribute_not_exists(orderId)",
          }),
        ),
      );
      return out !== undefined;
    },

    async updateStatus(orderId, from, to, changes) {
      if (from.length === 0) return undefined;
      const values: Record<string, unknown> = {
        ":to": to,
        ":now": changes.updatedAt,
        ":statusShard": statusShardKey(to, shardOf(orderId, shards)),
      };
      // The status index's hash key moves with the status, in the same conditional write.
      const sets = ["#status = :to", "updatedAt = :now", `${ORDER_INDEX_KEYS.statusShard} = :statusShard`];
      if (changes.chargeId !== undefined) {
        sets.push("chargeId = :chargeId");
        values[":chargeId"] = changes.chargeId;
      }
      if (changes.failure !== undefined) {
        sets.push("failure = :failure");
        values[":failure"] = changes.failure;
      }
      const fromNames = from.map((_, i) => `:from${i}`);
      from.forEach((s, i) => (values[`:from${i}`] = s));
      return conditionalUpdate({
        Key: key(orderId),
        UpdateExpression: `SET ${sets.join(", ")}`,
        ConditionExpression: `#status IN (${fromNames.join(", ")})`,
        ExpressionAttributeNames: { "#status": "status" },
        ExpressionAttributeValues: marshall(values, { removeUndefinedValues: true }),
      });
    },

    async list({ status, limit, startKey }) {
      const after = startKey
        ? listSortKey({ createdAt: startKey.createdAt, orderId: startKey.orderId })
        : undefined;
      const page = await mergeShards({
        shards,
        limit,
        descending: true,
        sortKey: listSortKey,
        query: shardQuery(client, tableName, listingIndex(status), { descending: true, after }),
      });
      const last = page.items[page.items.length - 1];
      if (!page.more || !last) return { items: page.items };
      const lastKey: OrderCursor = { orderId: last.orderId, createdAt: last.createdAt };
      if (status === undefined) lastKey.entity = "ORDER";
      else lastKey.status = status;
      return { items: page.items, lastKey };
    },

    async setFailureFlags(orderId, flags, updatedAt) {
      const sets = ["updatedAt = :now"];
      if (flags.refunded) sets.push("failure.refunded = :true");
      if (flags.restocked) sets.push("failure.restocked = :true");
      const values: Record<string, unknown> = { ":now": updatedAt, ":failed": "FAILED" };
      // DynamoDB refuses a value the expression does not use.
      if (flags.refunded || flags.restocked) values[":true"] = true;
      if (flags.compensatedAt) {
        // The first finish is the one: a repeated compensation does not move it.
        sets.push("failure.compensatedAt = if_not_exists(failure.compensatedAt, :at)");
        values[":at"] = flags.compensatedAt;
      }
      return conditionalUpdate({
        Key: key(orderId),
        UpdateExpression: `SET ${sets.join(", ")}`,
        ConditionExpression: "#status = :failed AND attribute_exists(failure)",
        ExpressionAttributeNames: { "#status": "status" },
        ExpressionAttributeValues: marshall(values),
      });
    },

    async markNotified(orderId, notifiedAt, messageId) {
      const updated = await conditionalUpdate({
        Key: key(orderId),
        UpdateExpression: "SET notifiedAt = :at, notificationId = :mid, updatedAt = :at",
        ConditionExpression: "attribute_exists(orderId) AND attribute_not_exists(notifiedAt)",
        ExpressionAttributeValues: marshall({ ":at": notifiedAt, ":mid": messageId }),
      });
      return updated !== undefined;
    },
  };
}

/**
 * The sweeper's status queries over every shard of byStatus: oldest first (a merge), and counts
 * (one Select COUNT per shard and page).
 */
export function dynamoOrderStatusSource(
  client: DynamoDBClient,
  tableName: string,
  options: { pageSize?: number; shards?: number } = {},
): OrderStatusSource {
  const pageSize = options.pageSize ?? 50;
  const shards = options.shards ?? ORDER_LIST_SHARDS;
  const orders = dynamoOrderStore(client, tableName, shards);
  const oldestFirst = async (
    status: OrderStatus,
    range: { after?: string; before?: string },
  ): Promise<{ items: ListedOrder[]; lastKey?: Record<string, unknown> }> => {
    const page = await mergeShards({
      shards,
      limit: pageSize,
      descending: false,
      sortKey: listSortKey,
      query: shardQuery(client, tableName, listingIndex(status), { descending: false, ...range }),
    });
    const last = page.items[page.items.length - 1];
    return { items: page.items, lastKey: page.more && last ? { after: listSortKey(last) } : undefined };
  };
  const cursor = (startKey?: Record<string, unknown>) =>
    typeof startKey?.after === "string" ? startKey.after : undefined;
  return {
    createdBefore: (status, before, startKey) => oldestFirst(status, { after: cursor(startKey), before }),
    // `<createdAt>#<id>` sorts after `<createdAt>`: an ISO time as the lower bound keeps createdAt >= it.
    createdAfter: (status, after, startKey) => oldestFirst(status, { after: cursor(startKey) ?? after }),
    get: (orderId) => orders.get(orderId, { consistent: true }),
    async count(status) {
      const index = listingIndex(status);
      const perShard = await Promise.all(
        Array.from({ length: shards }, async (_, shard) => {
          let total = 0;
          let startKey: Record<string, AttributeValue> | undefined;
          do {
            const out = await client.send(
              new QueryCommand({
                TableName: tableName,
                IndexName: index.name,
                KeyConditionExpression: "#pk = :pk",
                ExpressionAttributeNames: { "#pk": index.hashKey },
                ExpressionAttributeValues: { ":pk": { S: index.hashValue(shard) } },
                Select: "COUNT",
                ExclusiveStartKey: startKey,
              }),
            );
            total += out.Count ?? 0;
            startKey = out.LastEvaluatedKey;
          } while (startKey);
          return total;
        }),
      );
      return perShard.reduce((a, b) => a + b, 0);
    },
  };
}
