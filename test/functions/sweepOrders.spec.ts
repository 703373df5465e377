import { expect } from "chai";
import * as sinon from "sinon";
import {
  executionArnOf,
  sweepOrdersFromEnv,
  sweepOrdersHandler,
  type ExecutionStatus,
  type SweepOrdersDeps,
  type SweepOrderSource,
} from "../../functions/sweepOrders";
import type { Order, OrderStatus } from "../../functions/shared/types";
import { captureLogger, makeOrder, ORDER_ID, OTHER_ORDER_ID, T0 } from "./support";

const STUCK_AFTER = 1500;
const NOW = new Date(Date.parse(T0) + 3600_000);

/** Orders by status; createdBefore honours the cutoff, like the byStatus key condition. */
function source(orders: Order[], pageSize = 1): SweepOrderSource & { calls: string[] } {
  const calls: string[] = [];
  return {
    calls,
    async createdBefore(status, before, startKey) {
      calls.push(`${status}<${before}`);
      const matching = orders
        .filter((o) => o.status === status && o.createdAt < before)
        .sort((a, b) => a.createdAt.localeCompare(b.createdAt));
      const from = startKey ? Number(startKey.i) : 0;
      const items = matching.slice(from, from + pageSize);
      return { items, lastKey: from + pageSize < matching.length ? { i: from + pageSize } : undefined };
    },
    async count(status: OrderStatus) {
      return orders.filter((o) => o.status === status).length;
    },
  };
}

function world(
  orders: Order[],
  executions: Record<string, { status: ExecutionStatus; error?: string }> = {},
) {
  const log = captureLogger();
  const deps = {
    orders: source(orders),
    executions: { describe: sinon.stub().callsFake(async (id: string) => executions[id]) },
    workflow: { start: sinon.stub().resolves("started" as const) },
    compensator: {
      compensate: sinon.stub().callsFake(async (input: { order: { orderId: string } }) => ({
        orderId: input.order.orderId,
        status: "FAILED" as const,
        failure: { reason: "Timeout" as const, refunded: false, restocked: true },
      })),
    },
    stuckAfterSeconds: STUCK_AFTER,
    now: () => NOW,
    log,
  };
  return { deps, log, run: sweepOrdersHandler(deps as SweepOrdersDeps) };
}

const old = (o: Partial<Order>) =>
  makeOrder({ createdAt: new Date(NOW.getTime() - 2 * STUCK_AFTER * 1000).toISOString(), ...o });
const young = (o: Partial<Order>) =>
  makeOrder({ createdAt: new Date(NOW.getTime() - 10_000).toISOString(), ...o });

describe("sweep_orders", () => {
  it("starts the missing execution of an old NEW order, named after the order, with the workflow input", async () => {
    const w = world([old({ status: "NEW" })]);
    const report = await w.run({});
    expect(
      w.deps.workflow.start.calledOnceWithExactly(ORDER_ID, {
        order: {
          orderId: ORDER_ID,
          items: [
            { sku: "SKU-1", quantity: 2 },
            { sku: "SKU-2", quantity: 1 },
          ],
          total: { amount: 3000, currency: "USD" },
        },
      }),
    ).to.equal(true);
    expect(report.entries).to.deep.equal([{ orderId: ORDER_ID, status: "NEW", action: "started" }]);
    expect(w.deps.compensator.compensate.called).to.equal(false);
  });

  it("only looks at orders older than the callback timeout + margin, oldest first, every non-terminal status", async () => {
    const w = world([young({ status: "NEW" })]);
    const report = await w.run({ "detail-type": "Scheduled Event", source: "aws.events" });
    expect(report.entries).to.deep.equal([]);
    expect(report.olderThanSeconds).to.equal(STUCK_AFTER);
    const cutoff = new Date(NOW.getTime() - STUCK_AFTER * 1000).toISOString();
    expect(w.deps.orders.calls).to.deep.equal([`NEW<${cutoff}`, `PROCESSING<${cutoff}`, `PAID<${cutoff}`]);
    expect(w.deps.workflow.start.called).to.equal(false);
  });

  it("an operator may sweep younger orders now with {olderThanSeconds}", async () => {
    const w = world([young({ status: "NEW" })]);
    const report = await w.run({ olderThanSeconds: 0 });
    expect(report.entries.map((e) => e.action)).to.deep.equal(["started"]);
  });

  it("ignores a malformed olderThanSeconds and uses the configured age", async () => {
    const w = world([young({ status: "NEW" })]);
    const report = await w.run({ olderThanSeconds: -5 });
    expect(report.olderThanSeconds).to.equal(STUCK_AFTER);
    expect(report.entries).to.deep.equal([]);
  });

  it("leaves an order whose execution is still RUNNING alone", async () => {
    const w = world([old({ status: "PROCESSING" })], { [ORDER_ID]: { status: "RUNNING" } });
    const report = await w.run({});
    expect(report.entries).to.deep.equal([
      { orderId: ORDER_ID, status: "PROCESSING", action: "running", execution: "RUNNING" },
    ]);
    expect(w.deps.compensator.compensate.called).to.equal(false);
    expect(w.deps.workflow.start.called).to.equal(false);
  });

  for (const [execution, error] of [
    ["FAILED", "CompensationFailed"],
    ["TIMED_OUT", undefined],
    ["ABORTED", undefined],
  ] as const) {
    it(`runs compensation for a PAID order whose execution ended ${execution}${error ? ` (${error})` : ""}`, async () => {
      const w = world([old({ status: "PAID", chargeId: "ch_1" })], {
        [ORDER_ID]: { status: execution, error },
      });
      const report = await w.run({});
      expect(report.entries[0]).to.include({ action: "compensated", execution });
      const input = w.deps.compensator.compensate.firstCall.args[0];
      expect(input.order.orderId).to.equal(ORDER_ID);
      expect(input.error.Error).to.equal("States.Timeout");
      expect(input.error.Cause).to.contain(execution);
    });
  }

  it("reports, never refunds, a PAID order whose notification failed", async () => {
    const w = world([old({ status: "PAID", chargeId: "ch_1" })], {
      [ORDER_ID]: { status: "FAILED", error: "NotificationFailed" },
    });
    const report = await w.run({});
    expect(report.entries[0]).to.include({ action: "needsAttention" });
    expect(report.entries[0].why).to.match(/re-notify/);
    expect(w.deps.compensator.compensate.called).to.equal(false);
  });

  it("reports an execution that SUCCEEDED without settling the order, and a PROCESSING order with no execution", async () => {
    const w = world(
      [old({ status: "PAID", chargeId: "c" }), old({ orderId: OTHER_ORDER_ID, status: "PROCESSING" })],
      { [ORDER_ID]: { status: "SUCCEEDED" } },
    );
    const report = await w.run({});
    expect(report.entries.map((e) => [e.orderId, e.action])).to.deep.equal([
      [OTHER_ORDER_ID, "needsAttention"],
      [ORDER_ID, "needsAttention"],
    ]);
    expect(w.deps.compensator.compensate.called).to.equal(false);
    expect(w.deps.workflow.start.called).to.equal(false);
  });

  it("reports an order whose compensation fails, and carries on with the next", async () => {
    const w = world(
      [old({ status: "PAID", chargeId: "c" }), old({ orderId: OTHER_ORDER_ID, status: "NEW" })],
      { [ORDER_ID]: { status: "TIMED_OUT" } },
    );
    w.deps.compensator.compensate.rejects(Object.assign(new Error("boom"), { name: "OrderCompleted" }));
    const report = await w.run({});
    expect(report.entries.map((e) => [e.orderId, e.action, e.why])).to.deep.equal([
      [OTHER_ORDER_ID, "started", undefined],
      [ORDER_ID, "needsAttention", "compensation failed: OrderCompleted"],
    ]);
  });

  it("is idempotent: a start that already happened counts as running", async () => {
    const w = world([old({ status: "NEW" })]);
    w.deps.workflow.start.resolves("alreadyExists");
    const report = await w.run({});
    expect(report.entries[0].action).to.equal("running");
  });

  it("pages through the index and stops at maxOrdersPerRun", async () => {
    const orders = Array.from({ length: 5 }, (_, i) =>
      old({
        orderId: `00000000-0000-4000-8000-00000000000${i}`,
        status: "NEW",
        createdAt: `2020-01-0${i + 1}T00:00:00.000Z`,
      }),
    );
    const w = world(orders);
    const deps = { ...w.deps, maxOrdersPerRun: 3 } as SweepOrdersDeps;
    const report = await sweepOrdersHandler(deps)({});
    expect(report.entries.map((e) => e.orderId.slice(-1))).to.deep.equal(["0", "1", "2"]);
    expect(report.truncated).to.equal(true);
  });

  it("emits OrdersInFlight and OrdersNeedingAttention as EMF on its log lines", async () => {
    const w = world(
      [
        old({ status: "PAID", chargeId: "c" }),
        young({ orderId: OTHER_ORDER_ID, status: "NEW" }),
        old({ orderId: "x", status: "COMPLETED" }),
      ],
      { [ORDER_ID]: { status: "SUCCEEDED" } },
    );
    await w.run({});
    const inFlight = w.log.lines.find((l) => l.msg === "orders in flight")!;
    expect(inFlight.OrdersInFlight).to.equal(2);
    const emf = inFlight._aws as {
      CloudWatchMetrics: { Namespace: string; Dimensions: string[][]; Metrics: { Name: string }[] }[];
    };
    expect(emf.CloudWatchMetrics[0]).to.deep.equal({
      Namespace: "Orderflow",
      Dimensions: [["FunctionName"]],
      Metrics: [{ Name: "OrdersInFlight", Unit: "Count" }],
    });
    const finished = w.log.lines.find((l) => l.msg === "sweep finished")!;
    expect(finished.OrdersNeedingAttention).to.equal(1);
    expect(w.log.lines.filter((l) => l.msg === "stuck order").every((l) => l.orderId !== undefined)).to.equal(
      true,
    );
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
      STATE_MACHINE_ARN: "arn:aws:states:us-east-1:1:stateMachine:m",
      STUCK_AFTER_SECONDS: "1500",
      COMPENSATE_FUNCTION_NAME: "compensate",
    };
    expect(() => sweepOrdersFromEnv(env)).not.to.throw();
    for (const key of Object.keys(env)) {
      const partial: Record<string, string | undefined> = { ...env, [key]: undefined };
      expect(() => sweepOrdersFromEnv(partial), key).to.throw(new RegExp(key));
    }
  });
});
