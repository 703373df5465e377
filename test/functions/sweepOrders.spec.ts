import { expect } from "chai";
import * as sinon from "sinon";
import { compensateOrderHandler } from "../../functions/compensateOrder";
import { sendNotificationHandler } from "../../functions/sendNotification";
import { simulatedChargeId } from "../../functions/shared/payments";
import {
  executionArnOf,
  LOOKBACK_EXTRA_SECONDS,
  sweepOrdersFromEnv,
  sweepOrdersHandler,
  type ExecutionStatus,
  type SweepAction,
  type SweepOrdersDeps,
  type SweepOrderSource,
} from "../../functions/sweepOrders";
import { toWorkflowOrder } from "../../functions/shared/order";
import { ORDER_LIST_ATTRIBUTES, type ListedOrder } from "../../functions/shared/orderStore";
import type { NotifyInput, Order, OrderStatus, PaymentResult } from "../../functions/shared/types";
import { violations } from "../support/invariant";
import { clock, makeOrder, ORDER_ID, OTHER_ORDER_ID, T0 } from "./support";
import { awsError, buildWorld, sqsEvent, sqsRecord, type World } from "./world";

const STUCK_AFTER = 1500;
const NOW = new Date(Date.parse(T0) + 3600_000);
const INITIAL = { "SKU-1": 5, "SKU-2": 3 };
const CHARGE_ID = simulatedChargeId(ORDER_ID);

const old = (o: Partial<Order> = {}) =>
  makeOrder({ createdAt: new Date(NOW.getTime() - 2 * STUCK_AFTER * 1000).toISOString(), ...o });
/** `n` old orders with ids ...000 to ...n-1, created a day (or, with `seconds`, a second) apart, oldest first. */
const oldOrders = (n: number, o: Partial<Order> = {}, seconds = false) =>
  Array.from({ length: n }, (_, i) =>
    old({
      orderId: `00000000-0000-4000-8000-${String(i).padStart(12, "0")}`,
      createdAt: new Date(Date.UTC(2020, 0, 1 + (seconds ? 0 : i), 0, 0, seconds ? i : 0)).toISOString(),
      ...o,
    }),
  );
const young = (o: Partial<Order> = {}) =>
  makeOrder({ createdAt: new Date(NOW.getTime() - 10_000).toISOString(), ...o });

/** What the byStatus index holds of an order: ORDER_LIST_ATTRIBUTES and the id, nothing else. */
function projected(o: Order): ListedOrder {
  const listed: Record<string, unknown> = { orderId: o.orderId };
  for (const a of ORDER_LIST_ATTRIBUTES) if (o[a] !== undefined) listed[a] = o[a];
  return listed as ListedOrder;
}

/**
 * The byStatus index over the fake orders table, like dynamoOrderStatusSource: createdBefore is
 * strict, createdAfter inclusive, oldest first, items projected (a sweeper reading a field the
 * index does not hold sees it missing, as on AWS).
 */
function source(w: World, pageSize = 1): SweepOrderSource & { calls: string[] } {
  const calls: string[] = [];
  const page = (match: (o: Order) => boolean, startKey?: Record<string, unknown>) => {
    const all = [...w.orders.items.values()]
      .filter(match)
      .sort((a, b) => a.createdAt.localeCompare(b.createdAt));
    const from = startKey ? Number(startKey.i) : 0;
    const items = all.slice(from, from + pageSize).map(projected);
    return { items, lastKey: from + pageSize < all.length ? { i: from + pageSize } : undefined };
  };
  return {
    calls,
    async createdBefore(status, before, startKey) {
      calls.push(`${status}<${before}`);
      return page((o) => o.status === status && o.createdAt < before, startKey);
    },
    async createdAfter(status, after, startKey) {
      calls.push(`${status}>${after}`);
      return page((o) => o.status === status && o.createdAt >= after, startKey);
    },
    get: (orderId) => w.orders.get(orderId, { consistent: true }),
    async count(status: OrderStatus) {
      return [...w.orders.items.values()].filter((o) => o.status === status).length;
    },
  };
}

/**
 * The sweeper over the function specs' in-memory world: the real compensate_order,
 * send_notification, update_inventory and ledger behind its ports, executions as a table.
 */
function sweepWorld(
  orders: Order[],
  executions: Record<string, { status: ExecutionStatus; error?: string }> = {},
) {
  const w = buildWorld(orders[0], INITIAL);
  for (const o of orders.slice(1)) w.orders.items.set(o.orderId, JSON.parse(JSON.stringify(o)) as Order);
  const now = clock(NOW.getTime());
  const compensateHandler = compensateOrderHandler({ ...w, now, log: w.log });
  const publish = sinon.stub().resolves("msg-id");
  const notify = sendNotificationHandler({ orders: w.orders, notifier: { publish }, now, log: w.log });
  const deps = {
    orders: source(w),
    ledger: w.ledgerStore,
    reservations: {
      held: async () =>
        [...w.stock.records.values()].flatMap((r) =>
          Object.entries(r.reservations ?? {}).map(([orderId, quantity]) => ({
            sku: r.sku,
            orderId,
            quantity,
          })),
        ),
    },
    inventory: w.inventory,
    executions: { describe: sinon.stub().callsFake(async (id: string) => executions[id]) },
    workflow: { start: sinon.stub().resolves("started" as const) },
    compensator: { compensate: sinon.stub().callsFake(compensateHandler) },
    completer: { complete: sinon.stub().callsFake(async (i: NotifyInput) => void (await notify(i))) },
    stuckAfterSeconds: STUCK_AFTER,
    now: () => NOW,
    log: w.log,
  } satisfies SweepOrdersDeps;
  return { w, deps, publish, compensateHandler, notify, run: sweepOrdersHandler(deps) };
}
type SweepWorld = ReturnType<typeof sweepWorld>;

// ---- world set-up: the states a crash leaves -----------------------------------------------

const LINES = [
  { sku: "SKU-1", quantity: 2 },
  { sku: "SKU-2", quantity: 1 },
];
const reserve = (w: World, orderId = ORDER_ID) =>
  w.runInventory({ action: "reserve", orderId, items: LINES });
const charge = (w: World, orderId = ORDER_ID, chargeId = simulatedChargeId(orderId)) =>
  w.ledgerStore.put({ orderId, entry: "CHARGE", amount: 3000, currency: "USD", chargeId, createdAt: "t" });
const refund = (w: World, orderId = ORDER_ID) =>
  w.ledgerStore.put({
    orderId,
    entry: "REFUND",
    amount: 3000,
    refundId: "rf",
    chargeId: simulatedChargeId(orderId),
    createdAt: "t",
  });

/** The invariant of issue 12 (test/support/invariant.ts) over every order of the world. */
function expectSettled(w: World, seed: Record<string, number> = INITIAL): void {
  const tables = {
    orders: [...w.orders.items.values()],
    ledger: [...w.ledgerStore.entries.values()],
    stock: [...w.stock.records.values()],
  };
  expect(violations(tables, seed)).to.deep.equal([]);
}

/** What a restarted execution does: deliver the payment message, then notify or compensate. */
async function runExecution(s: SweepWorld, order: Order): Promise<void> {
  const { w } = s;
  w.workflow.sendSuccess.resetHistory();
  w.workflow.sendFailure.resetHistory();
  await w.processPayment(sqsEvent(sqsRecord(order, "m", `token-${order.orderId}`)));
  if (w.workflow.sendSuccess.called) {
    await s.notify({
      order: toWorkflowOrder(order),
      payment: w.workflow.sendSuccess.firstCall.args[1] as PaymentResult,
    });
  } else if (w.workflow.sendFailure.called) {
    await s.compensateHandler({
      order: toWorkflowOrder(order),
      error: { Error: w.workflow.sendFailure.firstCall.args[1] as string },
    });
  }
}

const actions = (r: { entries: { orderId: string; action: SweepAction }[] }) =>
  r.entries.map((e) => [e.orderId, e.action]);

describe("sweep_orders", () => {
  afterEach(() => sinon.restore());

  describe("decision table: a non-terminal order with no live execution", () => {
    it("NEW, no execution ever started: started, named after the order, with the workflow input; the run completes it", async () => {
      const s = sweepWorld([old({ status: "NEW" })]);
      const report = await s.run({});
      expect(report.entries).to.deep.equal([{ orderId: ORDER_ID, status: "NEW", action: "started" }]);
      expect(
        s.deps.workflow.start.calledOnceWithExactly(ORDER_ID, { order: toWorkflowOrder(old()) }),
      ).to.equal(true);
      await runExecution(s, old());
      expect(s.w.orders.items.get(ORDER_ID)!.status).to.equal("COMPLETED");
      expectSettled(s.w);
    });

    it("PROCESSING with stock held and a CHARGE, no execution: restarted, and the run reuses both (one charge)", async () => {
      const s = sweepWorld([old({ status: "PROCESSING" })]);
      await reserve(s.w);
      await charge(s.w);
      expect(actions(await s.run({}))).to.deep.equal([[ORDER_ID, "started"]]);
      await runExecution(s, old());
      expect(s.w.orders.items.get(ORDER_ID)!.status).to.equal("COMPLETED");
      expect(s.w.provider.charge.called, "provider charged again").to.equal(false);
      expectSettled(s.w);
    });

    for (const execution of [
      undefined,
      { status: "FAILED" as const, error: "NotificationFailed" },
      { status: "TIMED_OUT" as const },
    ]) {
      it(`PAID with its CHARGE and stock held, execution ${execution?.status ?? "none"}: completed (committed, notified), never refunded`, async () => {
        const s = sweepWorld(
          [old({ status: "PAID", chargeId: CHARGE_ID })],
          execution ? { [ORDER_ID]: execution } : {},
        );
        await reserve(s.w);
        await charge(s.w);
        expect(actions(await s.run({}))).to.deep.equal([[ORDER_ID, "completed"]]);
        expect(s.w.orders.items.get(ORDER_ID)!.status).to.equal("COMPLETED");
        expect(s.publish.calledOnce).to.equal(true);
        expect(s.w.provider.refund.called).to.equal(false);
        expectSettled(s.w);
      });
    }

    for (const [execution, status] of [
      ["TIMED_OUT", "PROCESSING"],
      ["FAILED", "PROCESSING"],
      ["ABORTED", "NEW"],
    ] as const) {
      it(`${status}, execution ${execution}: compensated (refund what was charged, release what is held, FAILED)`, async () => {
        const s = sweepWorld([old({ status })], { [ORDER_ID]: { status: execution } });
        if (status === "PROCESSING") {
          await reserve(s.w);
          await charge(s.w);
        }
        const report = await s.run({});
        expect(report.entries[0]).to.include({ action: "compensated", execution });
        const input = s.deps.compensator.compensate.firstCall.args[0];
        expect(input.error.Cause).to.contain(execution);
        const stored = s.w.orders.items.get(ORDER_ID)!;
        expect(stored.failure).to.deep.include({
          reason: "Timeout",
          refunded: status === "PROCESSING",
          restocked: status === "PROCESSING",
        });
        expectSettled(s.w);
      });
    }

    it("leaves an order whose execution is RUNNING or PENDING_REDRIVE alone", async () => {
      const s = sweepWorld(
        [old({ status: "PROCESSING" }), old({ orderId: OTHER_ORDER_ID, status: "PAID" })],
        {
          [ORDER_ID]: { status: "RUNNING" },
          [OTHER_ORDER_ID]: { status: "PENDING_REDRIVE" },
        },
      );
      const report = await s.run({});
      expect(report.entries.map((e) => e.action)).to.deep.equal(["running", "running"]);
      expect(s.deps.compensator.compensate.called || s.deps.completer.complete.called).to.equal(false);
      expect(s.deps.workflow.start.called).to.equal(false);
    });
  });

  it("decides on the order as it is now: one that completed after the page was read is left alone", async () => {
    const s = sweepWorld([old({ status: "COMPLETED", chargeId: CHARGE_ID })], {
      [ORDER_ID]: { status: "SUCCEEDED" },
    });
    await charge(s.w);
    // The index page still says PROCESSING (read before the execution finished).
    sinon.stub(s.deps.orders, "createdBefore").callsFake(async (status) => ({
      items: status === "PROCESSING" ? [old({ status: "PROCESSING" })] : [],
    }));
    const report = await s.run({});
    expect(report.entries).to.deep.equal([]);
    expect(s.w.log.lines.find((l) => l.msg === "sweep finished")!.OrdersNeedingAttention).to.equal(0);
  });

  describe("contradictions: needsAttention, nothing written", () => {
    const cases: {
      name: string;
      order: Partial<Order>;
      exec?: ExecutionStatus;
      setup: (w: World) => Promise<unknown>;
      why: RegExp;
    }[] = [
      {
        name: "PAID without a CHARGE",
        order: { status: "PAID", chargeId: CHARGE_ID },
        setup: async () => undefined,
        why: /without a matching CHARGE/,
      },
      {
        name: "PAID with another chargeId",
        order: { status: "PAID", chargeId: "ch_other" },
        setup: (w) => charge(w),
        why: /ch_other/,
      },
      {
        name: "PROCESSING with a REFUND",
        order: { status: "PROCESSING" },
        setup: async (w) => (await charge(w), refund(w)),
        why: /REFUND/,
      },
      {
        name: "execution SUCCEEDED, order PAID",
        order: { status: "PAID", chargeId: CHARGE_ID },
        exec: "SUCCEEDED",
        setup: (w) => charge(w),
        why: /SUCCEEDED/,
      },
    ];
    for (const c of cases) {
      it(c.name, async () => {
        const s = sweepWorld([old(c.order)], c.exec ? { [ORDER_ID]: { status: c.exec } } : {});
        await reserve(s.w);
        await c.setup(s.w);
        const before = JSON.stringify([
          ...s.w.orders.items.values(),
          ...s.w.ledgerStore.entries.values(),
          ...s.w.stock.records.values(),
        ]);
        const report = await s.run({});
        expect(report.entries).to.have.length(1);
        expect(report.entries[0].action).to.equal("needsAttention");
        expect(report.entries[0].why).to.match(c.why);
        const after = JSON.stringify([
          ...s.w.orders.items.values(),
          ...s.w.ledgerStore.entries.values(),
          ...s.w.stock.records.values(),
        ]);
        expect(after).to.equal(before);
        expect(s.w.log.lines.find((l) => l.msg === "sweep finished")!.OrdersNeedingAttention).to.equal(1);
      });
    }
  });

  it("a failing step is retried by the next run, and is not a contradiction (no needsAttention)", async () => {
    const s = sweepWorld([old({ status: "PROCESSING" })], { [ORDER_ID]: { status: "TIMED_OUT" } });
    s.deps.compensator.compensate
      .onFirstCall()
      .rejects(Object.assign(new Error("throttled"), { name: "TooManyRequestsException" }));
    const first = await s.run({});
    expect(first.entries.map((e) => [e.action, e.why])).to.deep.equal([
      ["retry", "compensation failed: TooManyRequestsException"],
    ]);
    expect(s.w.log.lines.find((l) => l.msg === "sweep finished")!.OrdersNeedingAttention).to.equal(0);
    expect((await s.run({})).entries.map((e) => e.action)).to.deep.equal(["compensated"]);
    expectSettled(s.w);
  });

  describe("loose ends on terminal orders", () => {
    it("a COMPLETED order still holding markers: committed (the stock stays sold)", async () => {
      const s = sweepWorld([old({ status: "COMPLETED", chargeId: CHARGE_ID })]);
      await reserve(s.w);
      await charge(s.w);
      expect(actions(await s.run({}))).to.deep.equal([[ORDER_ID, "committed"]]);
      expect(s.w.levels()).to.deep.equal({ "SKU-1": 3, "SKU-2": 2 });
      expectSettled(s.w);
    });

    it("a FAILED order still holding stock and a charge (a delivery crashed after compensation): refunded and restocked", async () => {
      const s = sweepWorld([
        young({ status: "FAILED", failure: { reason: "Timeout", refunded: false, restocked: false } }),
      ]);
      await reserve(s.w);
      await charge(s.w);
      expect(actions(await s.run({}))).to.deep.equal([[ORDER_ID, "compensated"]]);
      expect(s.w.orders.items.get(ORDER_ID)!.failure).to.deep.include({ refunded: true, restocked: true });
      expectSettled(s.w);
    });

    it("a FAILED order with a charge and no markers within the lookback: refunded; older ones are not read", async () => {
      const failure = { reason: "Timeout" as const, refunded: false, restocked: false };
      const ancient = makeOrder({
        orderId: OTHER_ORDER_ID,
        status: "FAILED",
        failure,
        createdAt: new Date(NOW.getTime() - 200 * 86_400_000).toISOString(),
      });
      const s = sweepWorld([young({ status: "FAILED", failure }), ancient]);
      await charge(s.w);
      expect(actions(await s.run({}))).to.deep.equal([[ORDER_ID, "compensated"]]);
      expect(s.w.ledgerStore.entries.has(`${ORDER_ID}#REFUND`)).to.equal(true);
      // An operator (or the offline start-up) may look back further.
      await charge(s.w, OTHER_ORDER_ID);
      expect(actions(await s.run({ lookbackSeconds: 366 * 86_400 }))).to.deep.equal([
        [OTHER_ORDER_ID, "compensated"],
      ]);
      expectSettled(s.w);
    });

    it("a FAILED order's charge is refunded from the index's list view: the order is not read again", async () => {
      const failure = { reason: "Timeout" as const, refunded: false, restocked: false };
      const s = sweepWorld([young({ status: "FAILED", failure })]);
      await charge(s.w);
      const get = sinon.spy(s.deps.orders, "get");
      expect(actions(await s.run({}))).to.deep.equal([[ORDER_ID, "compensated"]]);
      expect(get.callCount, "orders.get calls").to.equal(0);
      expectSettled(s.w);
    });

    it("the lookback's lower bound is inclusive: a FAILED order created exactly at it is refunded", async () => {
      const failure = { reason: "Timeout" as const, refunded: false, restocked: false };
      const edge = new Date(NOW.getTime() - (STUCK_AFTER + LOOKBACK_EXTRA_SECONDS) * 1000).toISOString();
      const s = sweepWorld([makeOrder({ status: "FAILED", failure, createdAt: edge })]);
      await charge(s.w);
      expect(actions(await s.run({}))).to.deep.equal([[ORDER_ID, "compensated"]]);
      expectSettled(s.w);
    });

    it("a marker held by an order that does not exist: needsAttention, stock untouched", async () => {
      const s = sweepWorld([old({ status: "COMPLETED" })]);
      await reserve(s.w, OTHER_ORDER_ID);
      const report = await s.run({});
      expect(report.entries.map((e) => [e.orderId, e.action])).to.deep.equal([
        [OTHER_ORDER_ID, "needsAttention"],
      ]);
      expect(s.w.levels()).to.deep.equal({ "SKU-1": 3, "SKU-2": 2 });
    });
  });

  describe("idempotent and safe beside the workflow", () => {
    /** One order of each kind a crash leaves. */
    async function crashed() {
      const ids = ["a", "b", "c", "d", "e"].map((x) => `00000000-0000-4000-8000-00000000000${x}`);
      const s = sweepWorld(
        [
          old({ orderId: ids[0], status: "PAID", chargeId: simulatedChargeId(ids[0]) }),
          old({ orderId: ids[1], status: "PROCESSING" }),
          old({ orderId: ids[2], status: "COMPLETED", chargeId: simulatedChargeId(ids[2]) }),
          young({
            orderId: ids[3],
            status: "FAILED",
            failure: { reason: "Timeout", refunded: false, restocked: false },
          }),
          old({ orderId: ids[4], status: "NEW" }),
        ],
        { [ids[1]]: { status: "TIMED_OUT" }, [ids[4]]: { status: "ABORTED" } },
      );
      s.w.stock.records.get("SKU-1")!.stock = 50;
      s.w.stock.records.get("SKU-2")!.stock = 50;
      for (const id of ids.slice(0, 4)) {
        await reserve(s.w, id);
        await charge(s.w, id);
      }
      return { s, ids };
    }
    /** crashed() stocks 50 of each SKU. */
    const expectConserved = (s: SweepWorld) => expectSettled(s.w, { "SKU-1": 50, "SKU-2": 50 });

    it("settles every kind in one run; a second run finds nothing to do", async () => {
      const { s } = await crashed();
      const first = await s.run({});
      expect(first.entries.map((e) => e.action).sort()).to.deep.equal([
        "committed",
        "compensated",
        "compensated",
        "compensated",
        "completed",
      ]);
      expectConserved(s);
      const second = await s.run({});
      expect(second.entries).to.deep.equal([]);
      expectConserved(s);
    });

    it("two sweeps at once do no more than one", async () => {
      const { s } = await crashed();
      await Promise.all([s.run({}), s.run({})]);
      await s.run({});
      expectConserved(s);
      expect(s.publish.callCount, "notices").to.be.at.most(2); // SNS is at-least-once; the order is recorded once
    });

    it("beside a running compensation and a late payment delivery of the same orders", async () => {
      const { s, ids } = await crashed();
      // The delivery started while the execution lived; its SendTaskSuccess finds it timed out.
      s.w.workflow.sendSuccess.rejects(awsError("TaskTimedOut"));
      await Promise.all([
        s.run({}),
        s.compensateHandler({
          order: toWorkflowOrder(s.w.orders.items.get(ids[3])!),
          error: { Error: "States.Timeout" },
        }),
        s.w.processPayment(sqsEvent(sqsRecord(s.w.orders.items.get(ids[1])!, "late", "stale"))),
      ]);
      // An order that moved while the sweep paged (here PROCESSING -> PAID) is the next run's.
      await s.run({});
      expectConserved(s);
    });

    // One order's port keeps throwing: that order is a retry, every other one is settled in the
    // same run, the run ends normally (its metric line), and the next run settles the rest.
    const failing = () => awsError("ServiceUnavailable", "simulated outage");
    const portFaults: {
      port: string;
      victim: number;
      override: (s: SweepWorld, victim: string) => Partial<SweepOrdersDeps>;
    }[] = [
      {
        port: "DescribeExecution",
        victim: 1,
        override: (s, victim) => ({
          executions: {
            describe: async (id) =>
              id === victim ? Promise.reject(failing()) : s.deps.executions.describe(id),
          },
        }),
      },
      {
        port: "a ledger read",
        victim: 0,
        override: (s, victim) => ({
          ledger: {
            get: async (id, kind) =>
              id === victim ? Promise.reject(failing()) : s.w.ledgerStore.get(id, kind),
          },
        }),
      },
      {
        port: "the marker commit",
        victim: 2,
        override: (s, victim) => ({
          inventory: {
            invoke: ((request) =>
              request.orderId === victim
                ? Promise.reject(failing())
                : s.w.inventory.invoke(request)) as SweepOrdersDeps["inventory"]["invoke"],
          },
        }),
      },
      {
        port: "reading the order",
        victim: 3,
        override: (s, victim) => ({
          orders: {
            ...s.deps.orders,
            get: async (id) => (id === victim ? Promise.reject(failing()) : s.deps.orders.get(id)),
          },
        }),
      },
    ];
    for (const f of portFaults) {
      it(`${f.port} throwing for one order: that order is a retry, the others are settled, the run goes on`, async () => {
        const { s, ids } = await crashed();
        const victim = ids[f.victim];
        const report = await sweepOrdersHandler({ ...s.deps, ...f.override(s, victim) })({});
        // The victim may be met twice (its markers, then its charge): a retry each time.
        const retries = report.entries.filter((e) => e.action === "retry");
        expect(retries).to.not.have.length(0);
        for (const e of retries) {
          expect(e.orderId).to.equal(victim);
          expect(e.why).to.match(/ failed: ServiceUnavailable$/);
        }
        const settled = {
          0: "completed",
          1: "compensated",
          2: "committed",
          3: "compensated",
          4: "compensated",
        };
        expect(
          report.entries.filter((e) => e.orderId !== victim).map((e) => [e.orderId, e.action]),
        ).to.have.deep.members(
          ids.map((id, i) => [id, settled[i as keyof typeof settled]]).filter(([id]) => id !== victim),
        );
        for (const id of ids.filter((x) => x !== victim))
          expect(s.w.orders.items.get(id)!.status, id).to.be.oneOf(["COMPLETED", "FAILED"]);
        expect(s.w.log.lines.find((l) => l.msg === "sweep finished")!.OrdersNeedingAttention).to.equal(0);
        await s.run({});
        expectConserved(s);
      });
    }

    it("StartExecution throwing for one order: a retry naming the error, the next order is still started", async () => {
      const ids = ["1", "2"].map((x) => `00000000-0000-4000-8000-00000000000${x}`);
      const s = sweepWorld([
        old({ orderId: ids[0], status: "NEW", createdAt: "2020-01-01T00:00:00.000Z" }),
        old({ orderId: ids[1], status: "NEW", createdAt: "2020-01-02T00:00:00.000Z" }),
      ]);
      s.deps.workflow.start.onFirstCall().rejects(awsError("ExecutionLimitExceeded"));
      const report = await s.run({});
      expect(report.entries.map((e) => [e.orderId, e.action, e.why])).to.deep.equal([
        [ids[0], "retry", "settling the order failed: ExecutionLimitExceeded"],
        [ids[1], "started", undefined],
      ]);
      expect(s.w.log.lines.find((l) => l.msg === "sweep finished")).to.include({ OrdersNeedingAttention: 0 });
    });

    // A crash (a thrown call) at each effect the sweeper causes: the step's first call throws,
    // the order it was for is a retry (no step lets the error out of the run), and the next run
    // finishes the job. `crash(orderId)` notes which order the call was for.
    type Crash = (orderId: string) => Error;
    const boom = () => awsError("ServiceUnavailable", "simulated crash");
    const faults: { step: string; inject: (s: SweepWorld, crash: Crash) => void }[] = [
      {
        step: "reading the ledger",
        inject: (s, crash) =>
          void sinon
            .stub(s.w.ledgerStore, "get")
            .callThrough()
            .onFirstCall()
            .callsFake(async (orderId) => Promise.reject(crash(orderId))),
      },
      {
        // Not the first invoke: that is a release, for the NEW order compensated first.
        step: "commit before completing",
        inject: (s, crash) =>
          s.w.inventory.invoke
            .withArgs(sinon.match({ action: "commit" }))
            .onFirstCall()
            .callsFake(async (r: { orderId: string }) => Promise.reject(crash(r.orderId))),
      },
      {
        step: "send_notification",
        inject: (s, crash) =>
          s.deps.completer.complete
            .onFirstCall()
            .callsFake(async (i: { order: { orderId: string } }) => Promise.reject(crash(i.order.orderId))),
      },
      {
        step: "compensate_order",
        inject: (s, crash) =>
          s.deps.compensator.compensate
            .onFirstCall()
            .callsFake(async (i: { order: { orderId: string } }) => Promise.reject(crash(i.order.orderId))),
      },
      {
        step: "the refund",
        inject: (s, crash) =>
          s.w.provider.refund
            .onFirstCall()
            .callsFake(async (r: { orderId: string }) => Promise.reject(crash(r.orderId))),
      },
      {
        step: "writing a status",
        inject: (s, crash) =>
          void sinon
            .stub(s.w.orders, "updateStatus")
            .callThrough()
            .onFirstCall()
            .callsFake(async (orderId) => Promise.reject(crash(orderId))),
      },
      {
        step: "releasing stock",
        inject: (s, crash) =>
          void sinon
            .stub(s.w.stock, "release")
            .callThrough()
            .onFirstCall()
            .callsFake(async (_sku, orderId) => Promise.reject(crash(orderId))),
      },
    ];
    for (const f of faults) {
      it(`crash at ${f.step}: that order is a retry; the next run settles everything, nothing taken twice`, async () => {
        const { s } = await crashed();
        let crashedFor: string | undefined;
        f.inject(s, (orderId) => ((crashedFor = orderId), boom()));
        const first = await s.run({});
        expect(crashedFor, `${f.step} was never called`).to.be.a("string");
        const retries = first.entries.filter((e) => e.orderId === crashedFor && e.action === "retry");
        expect(retries, `a retry for ${crashedFor}`).to.have.length(1);
        expect(retries[0].why).to.match(/ failed: ServiceUnavailable$/);
        await s.run({});
        expectConserved(s);
      });
    }
  });

  describe("selection and reporting", () => {
    it("only looks at orders older than the callback timeout + margin, every non-terminal status", async () => {
      const s = sweepWorld([young({ status: "NEW" })]);
      const report = await s.run({ "detail-type": "Scheduled Event", source: "aws.events" });
      expect(report.entries).to.deep.equal([]);
      expect(report.olderThanSeconds).to.equal(STUCK_AFTER);
      const cutoff = new Date(NOW.getTime() - STUCK_AFTER * 1000).toISOString();
      expect(s.deps.orders.calls.slice(0, 3)).to.deep.equal([
        `NEW<${cutoff}`,
        `PROCESSING<${cutoff}`,
        `PAID<${cutoff}`,
      ]);
      expect(s.deps.workflow.start.called).to.equal(false);
    });

    it("an operator may sweep younger orders now with {olderThanSeconds}; a malformed value is ignored", async () => {
      const s = sweepWorld([young({ status: "NEW" })]);
      expect((await s.run({ olderThanSeconds: -5 })).entries).to.deep.equal([]);
      expect((await s.run({ olderThanSeconds: 0 })).entries.map((e) => e.action)).to.deep.equal(["started"]);
    });

    it("pages through the index and stops at maxOrdersPerRun", async () => {
      const orders = oldOrders(5, { status: "NEW" });
      const s = sweepWorld(orders);
      const report = await sweepOrdersHandler({ ...s.deps, maxOrdersPerRun: 3 })({});
      expect(report.entries.map((e) => e.orderId.slice(-1))).to.deep.equal(["0", "1", "2"]);
      expect(report.truncated).to.equal(true);
    });

    it("maxOrders counts actions only: 100 old running orders ahead do not stop a settleable one or the marker pass", async () => {
      const running = oldOrders(100, { status: "NEW" }, true);
      const stuck = old({ orderId: ORDER_ID, status: "NEW", createdAt: "2021-01-01T00:00:00.000Z" });
      const done = old({
        orderId: OTHER_ORDER_ID,
        status: "COMPLETED",
        chargeId: simulatedChargeId(OTHER_ORDER_ID),
      });
      const s = sweepWorld(
        [stuck, ...running, done],
        Object.fromEntries(running.map((o) => [o.orderId, { status: "RUNNING" as const }])),
      );
      await reserve(s.w, OTHER_ORDER_ID);
      const report = await s.run({});
      expect(report.entries.filter((e) => e.action === "running")).to.have.length(100);
      expect(
        report.entries.filter((e) => e.action !== "running").map((e) => [e.orderId, e.action]),
      ).to.deep.equal([
        [ORDER_ID, "started"],
        [OTHER_ORDER_ID, "committed"],
      ]);
      expect(report.truncated).to.equal(false);
      // The cap still holds for actions: one allowed, the marker waits for the next run.
      const capped = await sweepOrdersHandler({ ...s.deps, maxOrdersPerRun: 1 })({});
      expect(capped.entries.map((e) => e.action))
        .to.include("running")
        .and.not.include("committed");
    });

    it("stops starting orders when the Lambda's remaining time falls below the reserve, and says truncated", async () => {
      const orders = oldOrders(4, { status: "NEW" });
      const s = sweepWorld(orders);
      // Each StartExecution takes 40 s of the run's 100 s: two fit before less than 30 s is left.
      let remaining = 100_000;
      const context = { getRemainingTimeInMillis: () => remaining };
      s.deps.workflow.start.callsFake(async () => ((remaining -= 40_000), "started" as const));
      const report = await s.run({}, context);
      expect(report.entries.map((e) => [e.orderId.slice(-1), e.action])).to.deep.equal([
        ["0", "started"],
        ["1", "started"],
      ]);
      expect(report.truncated).to.equal(true);
      expect(s.w.log.lines.find((l) => l.msg === "sweep finished")).to.include({ truncated: true });
      // With time to spare the same run does them all.
      remaining = 10_000_000;
      const next = await s.run({}, context);
      expect(next.truncated).to.equal(false);
    });

    it("the FAILED pass (no entry for orders it skips) stops on the time budget too", async () => {
      const failure = { reason: "PaymentDeclined" as const, refunded: false, restocked: false };
      const failed = Array.from({ length: 50 }, (_, i) =>
        young({
          orderId: `00000000-0000-4000-8000-${String(i).padStart(12, "0")}`,
          status: "FAILED",
          failure,
        }),
      );
      const s = sweepWorld(failed);
      let remaining = 45_000;
      const reads = sinon.stub(s.w.ledgerStore, "get").callThrough();
      reads.callsFake(
        async (id, kind) => ((remaining -= 1_000), reads.wrappedMethod.call(s.w.ledgerStore, id, kind)),
      );
      const report = await s.run({}, { getRemainingTimeInMillis: () => remaining });
      expect(report.entries).to.deep.equal([]);
      expect(report.truncated).to.equal(true);
      // One CHARGE read (a second each) per order started while 45 s ... 30 s were left: 16 of 50.
      expect(reads.callCount).to.equal(16);
    });

    it("emits OrdersInFlight and OrdersNeedingAttention as EMF on its log lines, the order id on each", async () => {
      const s = sweepWorld(
        [
          old({ status: "PAID", chargeId: "c" }),
          young({ orderId: OTHER_ORDER_ID, status: "NEW" }),
          old({ orderId: "x", status: "COMPLETED" }),
        ],
        { [ORDER_ID]: { status: "SUCCEEDED" } },
      );
      await s.run({});
      const inFlight = s.w.log.lines.find((l) => l.msg === "orders in flight")!;
      expect(inFlight.OrdersInFlight).to.equal(2);
      const emf = inFlight._aws as { CloudWatchMetrics: unknown[] };
      expect(emf.CloudWatchMetrics[0]).to.deep.equal({
        Namespace: "Orderflow",
        Dimensions: [["FunctionName"]],
        Metrics: [{ Name: "OrdersInFlight", Unit: "Count" }],
      });
      expect(s.w.log.lines.find((l) => l.msg === "sweep finished")!.OrdersNeedingAttention).to.equal(1);
      expect(
        s.w.log.lines.filter((l) => l.msg === "swept order").every((l) => l.orderId !== undefined),
      ).to.equal(true);
    });
  });

  it("derives the execution ARN from the state machine ARN", () => {
    expect(executionArnOf("arn:aws:states:us-east-1:123456789012:stateMachine:orders-1", ORDER_ID)).to.equal(
      `arn:aws:states:us-east-1:123456789012:execution:orders-1:${ORDER_ID}`,
    );
    expect(() => executionArnOf("arn:aws:lambda:us-east-1:1:function:f", "x")).to.throw(
      /not a state machine ARN/,
    );
  });

  it("fails at cold start when a setting is missing", () => {
    const env = {
      ORDERS_TABLE: "orders",
      PAYMENTS_TABLE: "payments",
      INVENTORY_TABLE: "inventory",
      STATE_MACHINE_ARN: "arn:aws:states:us-east-1:1:stateMachine:m",
      STUCK_AFTER_SECONDS: "1500",
      COMPENSATE_FUNCTION_NAME: "compensate",
      NOTIFY_FUNCTION_NAME: "notify",
      INVENTORY_FUNCTION_NAME: "inventory",
    };
    expect(() => sweepOrdersFromEnv(env)).not.to.throw();
    for (const key of Object.keys(env)) {
      const partial: Record<string, string | undefined> = { ...env, [key]: undefined };
      expect(() => sweepOrdersFromEnv(partial), key).to.throw(new RegExp(key));
    }
  });
});
