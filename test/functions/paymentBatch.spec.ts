import { expect } from "chai";
import { randomUUID } from "node:crypto";
import * as sinon from "sinon";
import type { TimeContext } from "../../functions/shared/timeBudget";
import type { Order } from "../../functions/shared/types";
import { makeOrder } from "./support";
import { buildWorld, sqsEvent, sqsRecord, type World } from "./world";

const STOCK = { "SKU-1": 1000, "SKU-2": 1000 };

/** A fake Lambda context whose remaining time is read from a script, one value per call. */
function scriptedContext(remaining: number[]): TimeContext & { calls: number } {
  const ctx = {
    calls: 0,
    getRemainingTimeInMillis() {
      const value = remaining[Math.min(ctx.calls, remaining.length - 1)];
      ctx.calls += 1;
      return value;
    },
  };
  return ctx;
}

/** Orders in the world's store, each with its own id. */
function addOrders(w: World, n: number): Order[] {
  return Array.from({ length: n }, () => {
    const o = makeOrder({ orderId: randomUUID() });
    w.orders.items.set(o.orderId, o);
    return o;
  });
}

/** Holds every heartbeat until released, counting how many are in flight at once (overall and per order). */
function gateHeartbeats(w: World, orderOfToken: (token: string) => string) {
  const state = { inFlight: 0, max: 0, perOrder: new Map<string, number>(), maxPerOrder: 0 };
  w.workflow.heartbeat.callsFake(async (token: string) => {
    const id = orderOfToken(token);
    state.inFlight += 1;
    state.perOrder.set(id, (state.perOrder.get(id) ?? 0) + 1);
    state.max = Math.max(state.max, state.inFlight);
    state.maxPerOrder = Math.max(state.maxPerOrder, state.perOrder.get(id)!);
    await new Promise((resolve) => setTimeout(resolve, 5));
    state.inFlight -= 1;
    state.perOrder.set(id, state.perOrder.get(id)! - 1);
  });
  return state;
}

describe("process_payment batches (time budget, bounded concurrency)", () => {
  afterEach(() => sinon.restore());

  it("starts no record once less than the budget remains: the rest return unstarted, in record order", async () => {
    const w = buildWorld(makeOrder(), STOCK, { recordConcurrency: 1, recordBudgetMs: 1000 });
    const [a, b, c, d] = addOrders(w, 4);
    const ctx = scriptedContext([5000, 1500, 999, 5000]);
    const res = await w.processPayment(
      sqsEvent(sqsRecord(a, "a"), sqsRecord(b, "b"), sqsRecord(c, "c"), sqsRecord(d, "d")),
      ctx,
    );
    // d is not started either: time only shrinks, and the budget was already short at c.
    expect(res.batchItemFailures).to.deep.equal([{ itemIdentifier: "c" }, { itemIdentifier: "d" }]);
    expect(w.orders.items.get(a.orderId)!.status).to.equal("PAID");
    expect(w.orders.items.get(b.orderId)!.status).to.equal("PAID");
    for (const o of [c, d]) {
      expect(w.orders.items.get(o.orderId)!.status).to.equal("NEW");
      expect(w.entries(o.orderId)).to.deep.equal([]);
    }
    expect(w.workflow.heartbeat.callCount).to.equal(2);
    expect(
      w.log.lines.some((l) => l.msg === "time budget: records returned unstarted" && l.unstarted === 2),
    ).to.equal(true);
  });

  it("with time to spare every record runs (the context is read, not ignored)", async () => {
    const w = buildWorld(makeOrder(), STOCK, { recordConcurrency: 4, recordBudgetMs: 1000 });
    const orders = addOrders(w, 6);
    const ctx = scriptedContext([29_000]);
    const res = await w.processPayment(sqsEvent(...orders.map((o, i) => sqsRecord(o, `m${i}`))), ctx);
    expect(res.batchItemFailures).to.deep.equal([]);
    expect(ctx.calls).to.equal(6);
    for (const o of orders) expect(w.entries(o.orderId)).to.deep.equal(["CHARGE"]);
  });

  it("runs up to recordConcurrency records at once, never more, and charges each order once", async () => {
    const w = buildWorld(makeOrder(), STOCK, { recordConcurrency: 3 });
    const orders = addOrders(w, 7);
    const tokens = new Map(orders.map((o) => [`tok-${o.orderId}`, o.orderId]));
    const gate = gateHeartbeats(w, (t) => tokens.get(t)!);
    const res = await w.processPayment(
      sqsEvent(...orders.map((o, i) => sqsRecord(o, `m${i}`, `tok-${o.orderId}`))),
    );
    expect(res.batchItemFailures).to.deep.equal([]);
    expect(gate.max).to.equal(3);
    for (const o of orders) {
      expect(w.orders.items.get(o.orderId)!.status).to.equal("PAID");
      expect(w.entries(o.orderId)).to.deep.equal(["CHARGE"]);
    }
    expect(w.provider.charge.callCount).to.equal(7);
    expect(w.levels()).to.deep.equal({ "SKU-1": 1000 - 7 * 2, "SKU-2": 1000 - 7 * 1 });
  });

  it("one order's duplicate records run one after another, beside other orders: one charge", async () => {
    const w = buildWorld(makeOrder(), STOCK, { recordConcurrency: 10 });
    const [x, y] = addOrders(w, 2);
    const gate = gateHeartbeats(w, (t) => (t.startsWith("x") ? x.orderId : y.orderId));
    const res = await w.processPayment(
      sqsEvent(sqsRecord(x, "x1", "x1"), sqsRecord(y, "y1", "y1"), sqsRecord(x, "x2", "x2")),
    );
    expect(res.batchItemFailures).to.deep.equal([]);
    expect(gate.max).to.equal(2);
    expect(gate.maxPerOrder).to.equal(1);
    expect(w.provider.charge.callCount).to.equal(2);
    expect(w.entries(x.orderId)).to.deep.equal(["CHARGE"]);
    expect(w.levels()).to.deep.equal({ "SKU-1": 1000 - 2 * 2, "SKU-2": 1000 - 2 * 1 });
  });

  it("records in flight when time runs short finish; only unstarted and failed ones are returned", async () => {
    const w = buildWorld(makeOrder(), STOCK, { recordConcurrency: 2, recordBudgetMs: 1000 });
    const orders = addOrders(w, 5);
    const flaky = orders[1];
    w.orders.items.set(flaky.orderId, { ...flaky, paymentToken: "tok_fail" });
    // Two starts with time, then none.
    const ctx = scriptedContext([9000, 9000, 10]);
    const res = await w.processPayment(sqsEvent(...orders.map((o, i) => sqsRecord(o, `m${i}`))), ctx);
    expect(res.batchItemFailures.map((f) => f.itemIdentifier)).to.deep.equal(["m1", "m2", "m3", "m4"]);
    expect(w.orders.items.get(orders[0].orderId)!.status).to.equal("PAID");
    expect(w.entries(flaky.orderId)).to.deep.equal([]);
    for (const o of orders.slice(2)) expect(w.orders.items.get(o.orderId)!.status).to.equal("NEW");
  });
});
