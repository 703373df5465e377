/**
 * 200 orders race for one SKU with stock 50. Stock is reserved before charging (design §5), so
 * exactly 50 complete, the other 150 fail OutOfStock without being charged, stock ends at exactly
 * 0 and the ledger balances. Throughput is printed, not asserted.
 */
import { expect } from "chai";
import type { Order, OrderView } from "../../functions/shared/types";
import { call, items, orderBody, stockOf, useOfflineSystem, waitForExecutions } from "./support/offline";

const ORDERS = 200;
const STOCK = 50;
const PRICE = 1234;

interface LedgerRow {
  orderId: string;
  entry: "CHARGE" | "REFUND" | "DECLINE";
  amount: number;
}

describe("concurrency: 200 orders racing for a SKU with stock 50", function () {
  this.timeout(150_000);
  const running = useOfflineSystem({
    catalogue: [{ sku: "HOT-1", name: "Hot", price: PRICE, stock: STOCK }],
    // Generous timings: a backlog must not time out here; the timeout paths have their own specs.
    timings: {
      callbackTimeoutSeconds: 120,
      heartbeatSeconds: 60,
      visibilityTimeoutSeconds: 30,
      maxRetryIntervalSeconds: 1,
    },
  });

  it("completes exactly 50, fails the rest with nothing charged, leaves stock 0 and a balanced ledger", async () => {
    const system = running();
    const started = Date.now();
    const created = await Promise.all(
      Array.from({ length: ORDERS }, (_, i) =>
        call<OrderView>(system, "POST", "/orders", {
          body: orderBody([{ sku: "HOT-1", quantity: 1 }], "tok_visa", `buyer${i}@example.com`),
        }),
      ),
    );
    const acceptedAt = Date.now();
    expect(created.map((r) => r.status)).to.deep.equal(Array(ORDERS).fill(201));
    const ids = created.map((r) => r.json.orderId);
    expect(new Set(ids).size).to.equal(ORDERS);

    // Wait on the workflow itself, not by polling 200 orders (that load would be the bottleneck).
    await waitForExecutions(system, 120_000);
    const doneAt = Date.now();
    // Every execution has ended, so every order is settled: one scan reads them all.
    const wanted = new Set(ids);
    const finals = (await items<Order>(system, system.tables.orders)).filter((o) => wanted.has(o.orderId));
    expect(finals).to.have.length(ORDERS);

    const completed = finals.filter((o) => o.status === "COMPLETED");
    const failed = finals.filter((o) => o.status === "FAILED");
    // Every compensation finished (compensatedAt); what it did is the same for all.
    const reasons = failed.map(({ failure }) =>
      JSON.stringify({ ...failure, compensatedAt: typeof failure?.compensatedAt }),
    );
    console.log(
      `      concurrency: ${ORDERS} orders accepted in ${((acceptedAt - started) / 1000).toFixed(1)} s ` +
        `(${Math.round(ORDERS / ((acceptedAt - started) / 1000))} POST/s), all terminal after ${((doneAt - started) / 1000).toFixed(1)} s ` +
        `= ${(ORDERS / ((doneAt - started) / 1000)).toFixed(1)} orders/s end to end`,
    );
    expect(completed).to.have.length(STOCK);
    expect(failed).to.have.length(ORDERS - STOCK);
    expect(new Set(reasons)).to.deep.equal(
      new Set([
        JSON.stringify({ reason: "OutOfStock", refunded: false, restocked: false, compensatedAt: "string" }),
      ]),
    );
    expect(await stockOf(system, "HOT-1")).to.equal(0);

    const ledger = (await items<LedgerRow>(system, system.tables.payments)).filter((r) =>
      ids.includes(r.orderId),
    );
    const sum = (entry: LedgerRow["entry"]) =>
      ledger.filter((r) => r.entry === entry).reduce((a, r) => a + r.amount, 0);
    const completedTotal = completed.reduce((a, o) => a + o.total.amount, 0);
    expect(completedTotal).to.equal(STOCK * PRICE);
    expect(sum("CHARGE") - sum("REFUND")).to.equal(completedTotal);
    // Out of stock is never charged: every charge belongs to a completed order, once.
    const charged = ledger
      .filter((r) => r.entry === "CHARGE")
      .map((r) => r.orderId)
      .sort();
    expect(charged).to.deep.equal(completed.map((o) => o.orderId).sort());

    const executions = [...system.sfn.executions.values()].filter((e) => ids.includes(e.name));
    expect(executions.map((e) => e.status)).to.deep.equal(Array(ORDERS).fill("SUCCEEDED"));
  });
});
