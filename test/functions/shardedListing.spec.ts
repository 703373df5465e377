/**
 * The sharded listing equals a model (one sorted array) under generated data: same orders, same
 * order, no duplicates or gaps across pages, for any page size and shard count. First the merge
 * alone over in-memory shards that page like DynamoDB (Limit, a LastEvaluatedKey even when
 * nothing is left, short pages as under the 1 MB cap), then the real store against dynalite
 * (listings, and the sweeper's createdBefore / createdAfter).
 */
import { expect } from "chai";
import { randomUUID } from "node:crypto";
import fc from "fast-check";
import * as sinon from "sinon";
import type { AttributeValue } from "@aws-sdk/client-dynamodb";
import {
  dynamoOrderStatusSource,
  dynamoOrderStore,
  listSortKey,
  mergeShards,
  ORDER_LIST_SHARDS,
  shardOf,
  type OrderCursor,
  type ShardQuery,
} from "../../functions/shared/orderStore";
import { transitionOrder } from "../../functions/shared/status";
import { ORDER_STATUSES, type OrderStatus } from "../../functions/shared/types";
import { countInFlight } from "../../local/recovery";
import { freshTables } from "./dynamoTables";
import { makeOrder, useDynalite } from "./support";

interface Row {
  orderId: string;
  createdAt: string;
}

/** A few timestamps only, so many orders share a createdAt (ties across and within shards). */
const createdAtArb = fc
  .integer({ min: 0, max: 5 })
  .map((s) => new Date(Date.UTC(2026, 10, 28, 12, 0, s)).toISOString());
const rowsArb = fc.uniqueArray(fc.record({ orderId: fc.uuid({ version: 4 }), createdAt: createdAtArb }), {
  maxLength: 60,
  selector: (r) => r.orderId,
});

const byKey = (descending: boolean) => (a: Row, b: Row) => {
  const x = listSortKey(a);
  const y = listSortKey(b);
  return x === y ? 0 : x < y === descending ? 1 : -1;
};

/**
 * Shards over rows, each sorted like its index, paging like a Query: at most `limit` (and at most
 * `cap`, like the 1 MB page limit) items after the start key, with a LastEvaluatedKey whenever
 * the page stopped early or was full, even if nothing follows.
 */
function memoryShards(
  rows: Row[],
  shards: number,
  descending: boolean,
  after: string | undefined,
  cap: number,
) {
  const beyond = (r: Row) =>
    after === undefined || (descending ? listSortKey(r) < after : listSortKey(r) > after);
  const perShard = Array.from({ length: shards }, (_, i) =>
    rows.filter((r) => shardOf(r.orderId, shards) === i && beyond(r)).sort(byKey(descending)),
  );
  const calls = { count: 0, read: 0 };
  const query: ShardQuery<Row> = async (shard, limit, startKey) => {
    calls.count += 1;
    expect(limit).to.be.greaterThan(0);
    const list = perShard[shard];
    const from = startKey ? list.findIndex((r) => r.orderId === startKey.orderId.S) + 1 : 0;
    const items = list.slice(from, from + Math.min(limit, cap));
    calls.read += items.length;
    const stoppedEarly = items.length > 0 && (items.length === limit || from + items.length < list.length);
    const last = items[items.length - 1];
    const lastKey: Record<string, AttributeValue> | undefined = stoppedEarly
      ? { orderId: { S: last.orderId } }
      : undefined;
    return { items, lastKey };
  };
  return { query, calls };
}

/**
 * What one page may read: the page, plus at most one read's worth left unused in each shard
 * (a read asks a shard for its share, ceil(limit / shards) + 2). Asking every shard for the whole
 * page reads up to shards x limit.
 */
const readBound = (limit: number, shards: number) => limit + shards * (Math.ceil(limit / shards) + 2);

/**
 * Pages through the merge until it says nothing is left; the cursor is the last sort key alone.
 * Checks on every page that the merge read no more items than readBound.
 */
async function pageThrough(rows: Row[], shards: number, limit: number, descending: boolean, cap: number) {
  const pages: Row[][] = [];
  let after: string | undefined;
  for (let guard = 0; guard < 1000; guard++) {
    const { query, calls } = memoryShards(rows, shards, descending, after, cap);
    const page = await mergeShards({ shards, limit, descending, sortKey: listSortKey, query });
    expect(calls.read, `items read for a page of ${limit} over ${shards} shards`).to.be.at.most(
      readBound(limit, shards),
    );
    pages.push(page.items);
    if (!page.more) return pages;
    after = listSortKey(page.items[page.items.length - 1]);
  }
  throw new Error("the listing never ended");
}

function expectModel(pages: Row[][], model: Row[], limit: number) {
  const flat = pages.flat();
  expect(flat.map((r) => r.orderId)).to.deep.equal(model.map((r) => r.orderId));
  expect(new Set(flat.map((r) => r.orderId)).size).to.equal(flat.length);
  // Every page but the last is full: no short page while orders remain.
  for (const page of pages.slice(0, -1)) expect(page).to.have.length(limit);
  expect(pages[pages.length - 1].length).to.be.at.most(limit);
}

describe("sharded listing (model-based)", () => {
  it("the merged pages equal the sorted model, either direction, any page size, shard count and page cap", async () => {
    await fc.assert(
      fc.asyncProperty(
        rowsArb,
        fc.integer({ min: 1, max: 12 }),
        fc.integer({ min: 1, max: 25 }),
        fc.boolean(),
        fc.integer({ min: 1, max: 30 }),
        async (rows, shards, limit, descending, cap) => {
          const pages = await pageThrough(rows, shards, limit, descending, cap);
          expectModel(pages, [...rows].sort(byKey(descending)), limit);
        },
      ),
      { numRuns: 300 },
    );
  });

  it("no page reads more than the page plus one share per shard, whatever the spread over shards", async () => {
    // Larger than rowsArb: an over-read only shows once shards hold more than their share.
    const manyRows = fc.uniqueArray(
      fc.record({
        orderId: fc.uuid({ version: 4 }),
        createdAt: fc
          .integer({ min: 0, max: 600 })
          .map((s) => new Date(Date.UTC(2026, 0, 1, 0, 0, s)).toISOString()),
      }),
      { minLength: 50, maxLength: 400, selector: (r) => r.orderId },
    );
    await fc.assert(
      fc.asyncProperty(
        manyRows,
        fc.integer({ min: 1, max: 16 }),
        fc.integer({ min: 1, max: 60 }),
        fc.boolean(),
        async (rows, shards, limit, descending) => {
          const { query, calls } = memoryShards(rows, shards, descending, undefined, 1000);
          const page = await mergeShards({ shards, limit, descending, sortKey: listSortKey, query });
          expect(page.items).to.have.length(Math.min(limit, rows.length));
          expect(calls.read).to.be.at.most(readBound(limit, shards));
        },
      ),
      { numRuns: 100 },
    );
  });

  it("reads each shard once per page when no shard pages short", async () => {
    const rows = Array.from({ length: 40 }, (_, i) => ({
      orderId: `00000000-0000-4000-8000-${String(i).padStart(12, "0")}`,
      createdAt: new Date(Date.UTC(2026, 0, 1, 0, 0, i)).toISOString(),
    }));
    const { query, calls } = memoryShards(rows, 8, true, undefined, 1000);
    const page = await mergeShards({ shards: 8, limit: 10, descending: true, sortKey: listSortKey, query });
    expect(page.items.map((r) => r.createdAt)).to.deep.equal(
      rows
        .slice(30)
        .reverse()
        .map((r) => r.createdAt),
    );
    expect(page.more).to.equal(true);
    expect(calls.count).to.equal(8);
  });

  it("a page of the deployed size reads about the page, not every shard's page (GET /orders, the sweeper)", async () => {
    const rows = Array.from({ length: 3000 }, (_, i) => ({
      orderId: randomUUID(),
      createdAt: new Date(Date.UTC(2026, 0, 1, 0, 0, 0, i)).toISOString(),
    }));
    // Not limit 1: every shard's whole page (16 x 1) is within readBound (49), so it cannot fail.
    for (const limit of [20, 50, 100]) {
      const { query, calls } = memoryShards(rows, ORDER_LIST_SHARDS, true, undefined, 1000);
      const page = await mergeShards({
        shards: ORDER_LIST_SHARDS,
        limit,
        descending: true,
        sortKey: listSortKey,
        query,
      });
      expect(page.items).to.have.length(limit);
      expect(calls.read, `limit ${limit}`).to.be.at.most(readBound(limit, ORDER_LIST_SHARDS));
    }
  });

  it("spreads order ids over the shards (no hot shard), at the default count and others", () => {
    for (const shards of [ORDER_LIST_SHARDS, 3, 8]) {
      const counts = new Array(shards).fill(0);
      const n = 1000 * shards;
      for (let i = 0; i < n; i++) counts[shardOf(randomUUID(), shards)]++;
      for (const c of counts) expect(c, `${shards} shards`).to.be.within(800, 1200);
    }
    // The default argument is the deployed count.
    const id = randomUUID();
    expect(shardOf(id)).to.equal(shardOf(id, ORDER_LIST_SHARDS));
  });
});

describe("sharded listing against dynalite (the real store)", function () {
  this.timeout(60_000);
  const dynamo = useDynalite();

  const statusArb = fc.constantFrom<OrderStatus>(...ORDER_STATUSES);

  it("list (all and by status) and the sweeper's queries equal the model after status moves", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.uniqueArray(
          fc.record({ orderId: fc.uuid({ version: 4 }), createdAt: createdAtArb, status: statusArb }),
          { maxLength: 25, selector: (r) => r.orderId },
        ),
        fc.integer({ min: 1, max: 8 }),
        fc.integer({ min: 1, max: 7 }),
        statusArb,
        async (rows, shards, limit, listed) => {
          const names = await freshTables(dynamo.client);
          const store = dynamoOrderStore(dynamo.client, names.orders, shards);
          for (const r of rows) {
            await store.create(makeOrder({ orderId: r.orderId, createdAt: r.createdAt, status: "NEW" }));
            // Through the real transition rules: the status index's hash key must follow.
            if (r.status !== "NEW") {
              for (const step of pathTo(r.status)) {
                await transitionOrder(store, r.orderId, step, {
                  updatedAt: r.createdAt,
                  ...(step === "PAID" ? { chargeId: "ch_1" } : {}),
                  ...(step === "FAILED"
                    ? { failure: { reason: "Timeout", refunded: false, restocked: false } }
                    : {}),
                });
              }
            }
          }
          const newestFirst = [...rows].sort(byKey(true));

          const pages = async (status?: OrderStatus) => {
            const out: Row[][] = [];
            let startKey: OrderCursor | undefined;
            do {
              const page = await store.list({ status, limit, startKey });
              out.push(page.items);
              startKey = page.lastKey;
            } while (startKey);
            return out;
          };
          expectModel(await pages(), newestFirst, limit);
          const byStatus = await pages(listed);
          expectModel(
            byStatus,
            newestFirst.filter((r) => r.status === listed),
            limit,
          );
          for (const o of byStatus.flat())
            expect(o).to.include({ status: listed }).and.not.have.property("customer");

          const source = dynamoOrderStatusSource(dynamo.client, names.orders, { shards, pageSize: limit });
          const before = new Date(Date.UTC(2026, 10, 28, 12, 0, 3)).toISOString();
          const oldest: Row[] = [];
          let startKey: Record<string, unknown> | undefined;
          do {
            const page = await source.createdBefore(listed, before, startKey);
            oldest.push(...page.items);
            startKey = page.lastKey;
          } while (startKey);
          const model = [...rows]
            .sort(byKey(false))
            .filter((r) => r.status === listed && r.createdAt < before);
          expect(oldest.map((o) => o.orderId)).to.deep.equal(model.map((r) => r.orderId));
          // The FAILED pass's query: an ISO time is an inclusive lower bound (an order created at
          // that very second is in), oldest first, no gap or repeat across pages.
          const after = new Date(Date.UTC(2026, 10, 28, 12, 0, 2)).toISOString();
          const newer: Row[] = [];
          startKey = undefined;
          do {
            const page = await source.createdAfter(listed, after, startKey);
            newer.push(...page.items);
            startKey = page.lastKey;
          } while (startKey);
          expect(newer.map((o) => o.orderId)).to.deep.equal(
            [...rows]
              .sort(byKey(false))
              .filter((r) => r.status === listed && r.createdAt >= after)
              .map((r) => r.orderId),
          );
          expect(await source.count(listed)).to.equal(rows.filter((r) => r.status === listed).length);
        },
      ),
      { numRuns: 10 },
    );
  });

  it("the sweeper's get reads the whole order from the base table, consistently (the index holds a part)", async () => {
    const names = await freshTables(dynamo.client);
    const order = makeOrder({ orderId: randomUUID(), status: "NEW" });
    await dynamoOrderStore(dynamo.client, names.orders).create(order);
    const send = sinon.spy(dynamo.client, "send");
    try {
      const got = await dynamoOrderStatusSource(dynamo.client, names.orders).get(order.orderId);
      expect(got).to.deep.equal(order);
      const inputs = send
        .getCalls()
        .map((c) => (c.args[0] as unknown as { input: Record<string, unknown> }).input);
      expect(inputs).to.have.length(1);
      expect(inputs[0]).to.include({ TableName: names.orders, ConsistentRead: true });
      expect(inputs[0]).not.to.have.property("IndexName");
    } finally {
      send.restore();
    }
  });

  it("the offline shutdown count: orders by non-terminal status, from the status index, none left out as 0", async () => {
    const names = await freshTables(dynamo.client);
    const store = dynamoOrderStore(dynamo.client, names.orders);
    const statuses: OrderStatus[] = ["NEW", "NEW", "PAID", "COMPLETED", "FAILED"];
    for (const status of statuses) await store.create(makeOrder({ orderId: randomUUID(), status }));
    const send = sinon.spy(dynamo.client, "send");
    try {
      expect(await countInFlight(dynamo.client, names.orders)).to.deep.equal({ NEW: 2, PAID: 1 });
      const commands = send.getCalls().map((c) => (c.args[0] as object).constructor.name);
      expect(commands, "no Scan of the orders table").to.not.include("ScanCommand");
    } finally {
      send.restore();
    }
  });
});

/** The forward moves from NEW to a status (status.ts allows these). */
function pathTo(status: OrderStatus): OrderStatus[] {
  switch (status) {
    case "NEW":
      return [];
    case "PROCESSING":
      return ["PROCESSING"];
    case "PAID":
      return ["PROCESSING", "PAID"];
    case "COMPLETED":
      return ["PROCESSING", "PAID", "COMPLETED"];
    case "FAILED":
      return ["FAILED"];
  }
}
