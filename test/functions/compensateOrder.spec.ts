import { expect } from "chai";
import * as sinon from "sinon";
import { failureReason } from "../../functions/compensateOrder";
import { TASK_ERRORS } from "../../functions/processPayment";
import { simulatedChargeId } from "../../functions/shared/payments";
import type { Order } from "../../functions/shared/types";
import { makeOrder, ORDER_ID, setStatus } from "./support";
import { toOrderView } from "../../functions/shared/order";
import { buildWorld, sqsEvent, sqsRecord, type World } from "./world";

const CHARGE_ID = simulatedChargeId(ORDER_ID);
const INITIAL = { "SKU-1": 5, "SKU-2": 3 };

describe("compensate_order", () => {
  let w: World;
  let order: Order;
  beforeEach(() => {
    order = makeOrder({ status: "PROCESSING" });
    w = buildWorld(order);
  });
  afterEach(() => sinon.restore());

  const stored = () => w.orders.items.get(ORDER_ID)!;
  const reserve = () =>
    w.runInventory({
      action: "reserve",
      orderId: ORDER_ID,
      items: [
        { sku: "SKU-1", quantity: 2 },
        { sku: "SKU-2", quantity: 1 },
      ],
    });
  const charge = () =>
    w.ledgerStore.put({
      orderId: ORDER_ID,
      entry: "CHARGE",
      amount: 3000,
      currency: "USD",
      chargeId: CHARGE_ID,
      createdAt: "t",
    });

  describe("reason mapping", () => {
    const cases: [string, string][] = [
      ["States.Timeout", "Timeout"],
      ["States.HeartbeatTimeout", "Timeout"],
      ["PaymentDeclined", "PaymentDeclined"],
      ["OutOfStock", "OutOfStock"],
      ["OrderNotFound", "OrderNotFound"],
      ["States.TaskFailed", "InternalError"],
      ["Lambda.ServiceException", "InternalError"],
      ["", "InternalError"],
      // Every error process_payment reports is its own failure reason.
      ...Object.values(TASK_ERRORS).map((e): [string, string] => [e, e]),
    ];
    for (const [error, reason] of cases) {
      it(`${error || "(empty)"} -> ${reason}`, async () => {
        expect(failureReason(error)).to.equal(reason);
        const res = await w.compensate({ Error: error, Cause: "x" });
        expect(res.failure.reason).to.equal(reason);
        expect(stored().failure!.reason).to.equal(reason);
      });
    }
  });

  it("nothing charged, nothing reserved: FAILED, refunded false, restocked false, no provider call", async () => {
    const res = await w.compensate({ Error: "OutOfStock" });
    expect(res).to.deep.equal({
      orderId: ORDER_ID,
      status: "FAILED",
      failure: { reason: "OutOfStock", refunded: false, restocked: false },
    });
    expect(stored()).to.include({ status: "FAILED" });
    expect(w.provider.refund.called).to.equal(false);
    expect(w.levels()).to.deep.equal(INITIAL);
  });

  it("reserved but not charged: restock only", async () => {
    await reserve();
    const res = await w.compensate({ Error: "PaymentDeclined" });
    expect(res.failure).to.deep.equal({ reason: "PaymentDeclined", refunded: false, restocked: true });
    expect(w.provider.refund.called).to.equal(false);
    expect(w.levels()).to.deep.equal(INITIAL);
  });

  it("charged and reserved (PAID, callback timed out): PAID -> FAILED, refund and restock", async () => {
    setStatus(w.orders, ORDER_ID, "PAID", { chargeId: CHARGE_ID });
    await reserve();
    await charge();
    const res = await w.compensate({ Error: "States.Timeout" });
    expect(res.failure).to.deep.equal({ reason: "Timeout", refunded: true, restocked: true });
    expect(
      w.provider.refund.calledOnceWithExactly({ orderId: ORDER_ID, chargeId: CHARGE_ID, amount: 3000 }),
    ).to.equal(true);
    expect(w.entries()).to.deep.equal(["CHARGE", "REFUND"]);
    expect(w.levels()).to.deep.equal(INITIAL);
    expect(stored().status).to.equal("FAILED");
  });

  it("is idempotent: a second run refunds and restocks nothing more and returns the same result", async () => {
    await reserve();
    await charge();
    const first = await w.compensate({ Error: "States.Timeout" });
    const second = await w.compensate({ Error: "States.Timeout" });
    expect(second).to.deep.equal(first);
    expect(w.provider.refund.callCount).to.equal(1);
    expect(w.levels()).to.deep.equal(INITIAL);
    expect(w.entries()).to.deep.equal(["CHARGE", "REFUND"]);
  });

  it("a retry after a crash between refund and restock finishes the job", async () => {
    await reserve();
    await charge();
    w.inventory.invoke.onFirstCall().rejects(new Error("Lambda throttled"));
    let caught: unknown;
    await w.compensate({ Error: "States.Timeout" }).catch((e: unknown) => (caught = e));
    expect(caught).to.be.instanceOf(Error);
    const res = await w.compensate({ Error: "States.Timeout" });
    expect(res.failure).to.deep.equal({ reason: "Timeout", refunded: true, restocked: true });
    expect(w.provider.refund.callCount).to.equal(1);
    expect(w.levels()).to.deep.equal(INITIAL);
  });

  describe("failure.compensatedAt: the client's signal that refund and restock are final", () => {
    it("is absent while compensation runs and set once it has finished, with the final flags", async () => {
      await reserve();
      await charge();
      let during: Order | undefined;
      // Seen from the refund, the order is FAILED already but not compensated yet.
      w.provider.refund.callsFake(async (input: Parameters<World["simulator"]["refund"]>[0]) => {
        during = JSON.parse(JSON.stringify(stored())) as Order;
        return w.simulator.refund(input);
      });
      await w.compensate({ Error: "States.Timeout" });
      expect(during!.status).to.equal("FAILED");
      expect(during!.failure).to.not.have.property("compensatedAt");
      expect(stored().failure).to.deep.include({ refunded: true, restocked: true });
      expect(stored().failure!.compensatedAt).to.be.a("string");
    });

    it("is not set when compensation fails midway, and a repeat does not move it", async () => {
      await reserve();
      await charge();
      w.inventory.invoke.onFirstCall().rejects(new Error("Lambda throttled"));
      await w.compensate({ Error: "States.Timeout" }).catch(() => undefined);
      expect(stored().failure).to.not.have.property("compensatedAt");
      await w.compensate({ Error: "States.Timeout" });
      const at = stored().failure!.compensatedAt;
      expect(at).to.be.a("string");
      await w.compensate({ Error: "States.Timeout" });
      expect(stored().failure!.compensatedAt).to.equal(at);
    });

    it("is not set by process_payment undoing its own late effects (only compensation finishes)", async () => {
      setStatus(w.orders, ORDER_ID, "FAILED", {
        failure: { reason: "Timeout", refunded: false, restocked: false },
      });
      await reserve();
      await charge();
      await w.processPayment(sqsEvent(sqsRecord(order)));
      expect(stored().failure).to.deep.equal({ reason: "Timeout", refunded: true, restocked: true });
    });

    it("is shown by the API (toOrderView)", async () => {
      await w.compensate({ Error: "OutOfStock" });
      expect(toOrderView(stored()).failure).to.deep.equal(stored().failure);
      expect(toOrderView(stored()).failure!.compensatedAt).to.be.a("string");
    });
  });

  it("a NEW order (never reached payment) is marked FAILED", async () => {
    setStatus(w.orders, ORDER_ID, "NEW");
    const res = await w.compensate({ Error: "States.Timeout" });
    expect(res.status).to.equal("FAILED");
    expect(stored().status).to.equal("FAILED");
  });

  it("an order that is gone: undoes by order id, stores nothing", async () => {
    await reserve();
    w.orders.items.clear();
    const res = await w.compensate({ Error: "OrderNotFound" });
    expect(res.failure).to.deep.equal({ reason: "OrderNotFound", refunded: false, restocked: true });
    expect(w.orders.items.size).to.equal(0);
  });

  it("a COMPLETED order is refused (OrderCompleted) and left untouched", async () => {
    setStatus(w.orders, ORDER_ID, "COMPLETED", { chargeId: CHARGE_ID });
    await charge();
    let caught: unknown;
    await w.compensate({ Error: "States.Timeout" }).catch((e: unknown) => (caught = e));
    expect(caught).to.include({ name: "OrderCompleted" });
    expect(stored().status).to.equal("COMPLETED");
    expect(w.provider.refund.called).to.equal(false);
  });

  it("keeps the first reason when run again for another error", async () => {
    await w.compensate({ Error: "PaymentDeclined" });
    const again = await w.compensate({ Error: "States.Timeout" });
    expect(again.failure.reason).to.equal("PaymentDeclined");
  });

  it("refuses invalid input (ValidationError) without touching anything", async () => {
    let caught: unknown;
    await w.compensate({ Error: 42 as unknown as string }).catch((e: unknown) => (caught = e));
    expect(caught).to.include({ name: "ValidationError" });
    expect(stored().status).to.equal("PROCESSING");
  });
});
