import { expect } from "chai";
import * as sinon from "sinon";
import { simulatedChargeId } from "../../functions/shared/payments";
import type { InventoryRequest, Order } from "../../functions/shared/types";
import { makeOrder, ORDER_ID, OTHER_ORDER_ID, setStatus } from "./support";
import {
  awsError,
  buildWorld,
  DECLINE_ABOVE,
  rawRecord,
  sqsEvent,
  sqsRecord,
  TOKEN,
  type World,
} from "./world";

const CHARGE_ID = simulatedChargeId(ORDER_ID);
const RESULT = { orderId: ORDER_ID, chargeId: CHARGE_ID, amount: 3000 };
const INITIAL = { "SKU-1": 5, "SKU-2": 3 };
const RESERVED = { "SKU-1": 3, "SKU-2": 2 };

describe("process_payment", () => {
  let w: World;
  let order: Order;
  beforeEach(() => {
    order = makeOrder();
    w = buildWorld(order);
  });
  afterEach(() => sinon.restore());

  const deliver = (o: Order = order, messageId = "msg-1") =>
    w.processPayment(sqsEvent(sqsRecord(o, messageId)));
  const stored = () => w.orders.items.get(ORDER_ID)!;
  const actions = () => w.inventory.invoke.getCalls().map((c) => (c.args[0] as InventoryRequest).action);
  const markers = () => [...w.stock.records.values()].map((r) => r.reservations?.[ORDER_ID]);

  /** The invariants of a successful payment, whatever happened before. */
  const expectPaidOnce = () => {
    expect(stored()).to.include({ status: "PAID", chargeId: CHARGE_ID });
    expect(w.entries()).to.deep.equal(["CHARGE"]);
    expect(w.levels()).to.deep.equal(RESERVED);
    expect(w.workflow.sendSuccess.calledWith(TOKEN, RESULT)).to.equal(true);
    expect(w.workflow.sendFailure.called).to.equal(false);
  };

  describe("happy path", () => {
    it("heartbeats, marks PROCESSING, reserves, charges, marks PAID, reports success, commits", async () => {
      const seen: string[] = [];
      const realUpdate = w.orders.updateStatus.bind(w.orders);
      w.orders.updateStatus = async (...args) => {
        seen.push(args[2]);
        return realUpdate(...args);
      };
      const res = await deliver();
      expect(res).to.deep.equal({ batchItemFailures: [] });
      expectPaidOnce();
      expect(seen).to.deep.equal(["PROCESSING", "PAID"]);
      sinon.assert.callOrder(w.workflow.heartbeat, w.provider.charge, w.workflow.sendSuccess);
      expect(w.workflow.heartbeat.calledOnceWithExactly(TOKEN)).to.equal(true);
      expect(actions()).to.deep.equal(["reserve", "commit"]);
      // Reserve before charge, commit after success.
      expect(w.inventory.invoke.firstCall.calledBefore(w.provider.charge.firstCall)).to.equal(true);
      expect(w.inventory.invoke.secondCall.calledAfter(w.workflow.sendSuccess.firstCall)).to.equal(true);
      expect(markers()).to.deep.equal([undefined, undefined]);
      expect(w.provider.charge.firstCall.args[0]).to.deep.equal({
        orderId: ORDER_ID,
        amount: 3000,
        currency: "USD",
        token: "tok_visa",
      });
    });

    it("the simulator's charge id is derived from the order id (a retried charge is the same charge)", () => {
      expect(CHARGE_ID).to.match(/^ch_[0-9a-f]{24}$/);
      expect(simulatedChargeId(OTHER_ORDER_ID))
        .to.match(/^ch_[0-9a-f]{24}$/)
        .and.not.equal(CHARGE_ID);
    });

    it("logs JSON lines with the order id on every line after parsing", async () => {
      await deliver();
      const lines = w.log.lines.filter((l) => l.msg !== undefined);
      expect(lines.length).to.be.greaterThan(2);
      for (const l of lines) expect(l, String(l.msg)).to.have.property("orderId", ORDER_ID);
      expect(JSON.stringify(w.log.lines)).not.to.contain(TOKEN);
    });
  });

  describe("business failures go to the workflow, never charged twice", () => {
    it("declined token: SendTaskFailure PaymentDeclined, nothing charged, reservation left for compensation", async () => {
      order = makeOrder({ paymentToken: "tok_decline" });
      w = buildWorld(order);
      expect(await deliver()).to.deep.equal({ batchItemFailures: [] });
      expect(w.workflow.sendFailure.calledOnce).to.equal(true);
      const [token, error, cause] = w.workflow.sendFailure.firstCall.args;
      expect([token, error]).to.deep.equal([TOKEN, "PaymentDeclined"]);
      expect(JSON.parse(cause)).to.deep.equal({ orderId: ORDER_ID, reason: "CardDeclined" });
      expect(w.entries()).to.deep.equal(["DECLINE"]);
      expect(w.workflow.sendSuccess.called).to.equal(false);
      expect(stored().status).to.equal("PROCESSING");
      // Compensation then gives the stock back.
      const comp = await w.compensate({ Error: "PaymentDeclined", Cause: cause });
      expect(comp.failure).to.deep.equal({ reason: "PaymentDeclined", refunded: false, restocked: true });
      expect(w.levels()).to.deep.equal(INITIAL);
    });

    it(`a total above ${DECLINE_ABOVE} cents is declined`, async () => {
      order = makeOrder({ total: { amount: DECLINE_ABOVE + 1, currency: "USD" } });
      w = buildWorld(order);
      await deliver();
      expect(JSON.parse(w.workflow.sendFailure.firstCall.args[2])).to.deep.equal({
        orderId: ORDER_ID,
        reason: "AmountAboveLimit",
      });
      expect(w.entries()).to.deep.equal(["DECLINE"]);
    });

    it("out of stock: SendTaskFailure OutOfStock naming the SKUs, never charged, stock untouched", async () => {
      w = buildWorld(order, { "SKU-1": 1, "SKU-2": 3 });
      expect(await deliver()).to.deep.equal({ batchItemFailures: [] });
      const [, error, cause] = w.workflow.sendFailure.firstCall.args;
      expect(error).to.equal("OutOfStock");
      expect(JSON.parse(cause)).to.deep.equal({ orderId: ORDER_ID, skus: ["SKU-1"] });
      expect(w.provider.charge.called).to.equal(false);
      expect(w.entries()).to.deep.equal([]);
      expect(w.levels()).to.deep.equal({ "SKU-1": 1, "SKU-2": 3 });
    });

    it("order not found: SendTaskFailure OrderNotFound", async () => {
      w.orders.items.clear();
      expect(await deliver()).to.deep.equal({ batchItemFailures: [] });
      expect(w.workflow.sendFailure.firstCall.args.slice(0, 2)).to.deep.equal([TOKEN, "OrderNotFound"]);
      expect(w.provider.charge.called).to.equal(false);
    });

    it("transient provider failure (tok_fail): batch item failure, no SendTaskSuccess/Failure, nothing charged", async () => {
      order = makeOrder({ paymentToken: "tok_fail" });
      w = buildWorld(order);
      expect(await deliver()).to.deep.equal({ batchItemFailures: [{ itemIdentifier: "msg-1" }] });
      expect(w.workflow.sendSuccess.called || w.workflow.sendFailure.called).to.equal(false);
      expect(w.entries()).to.deep.equal([]);
      // Retried: still failing, still nothing taken twice.
      await deliver();
      expect(w.levels()).to.deep.equal(RESERVED);
      expect(
        w.log.lines.some((l) => l.level === "warn" && l.msg === "payment failed transiently: will retry"),
      ).to.equal(true);
    });
  });

  describe("malformed messages: logged and retried (then the DLQ)", () => {
    for (const [title, body, message = "malformed payment message"] of [
      ["not JSON", "{nope", "malformed payment message: not JSON"],
      ["JSON null", "null"],
      [
        "no task token",
        JSON.stringify({
          order: {
            orderId: ORDER_ID,
            items: [{ sku: "SKU-1", quantity: 1 }],
            total: { amount: 1, currency: "USD" },
          },
        }),
      ],
      [
        "bad order id",
        JSON.stringify({
          order: { orderId: "x", items: [], total: { amount: 1, currency: "USD" } },
          taskToken: TOKEN,
        }),
      ],
    ]) {
      it(title, async () => {
        expect(await w.processPayment(sqsEvent(rawRecord(body, "bad")))).to.deep.equal({
          batchItemFailures: [{ itemIdentifier: "bad" }],
        });
        expect(w.workflow.heartbeat.called).to.equal(false);
        expect(w.inventory.invoke.called).to.equal(false);
        expect(w.log.lines.some((l) => l.level === "error" && l.msg === message)).to.equal(true);
      });
    }

    it("only the failing records of a batch are reported", async () => {
      const other = makeOrder({ orderId: "0b1e2d3c-4a5b-4c6d-8e7f-a0b1c2d3e4f5", paymentToken: "tok_fail" });
      w.orders.items.set(other.orderId, other);
      const res = await w.processPayment(
        sqsEvent(sqsRecord(order, "ok"), rawRecord("{", "junk"), sqsRecord(other, "flaky")),
      );
      expect(res.batchItemFailures).to.deep.equal([{ itemIdentifier: "junk" }, { itemIdentifier: "flaky" }]);
      expect(stored().status).to.equal("PAID");
    });
  });

  describe("duplicate delivery", () => {
    it("a second delivery re-sends the recorded outcome and never charges again", async () => {
      await deliver();
      w.workflow.sendSuccess.rejects(awsError("TaskTimedOut"));
      expect(await deliver(order, "msg-2")).to.deep.equal({ batchItemFailures: [] });
      expect(w.provider.charge.callCount).to.equal(1);
      expectPaidOnce();
    });

    it("the same message twice in one batch: one charge, one reservation", async () => {
      w.workflow.sendSuccess.onSecondCall().rejects(awsError("InvalidToken"));
      const res = await w.processPayment(sqsEvent(sqsRecord(order, "a"), sqsRecord(order, "b")));
      expect(res.batchItemFailures).to.deep.equal([]);
      expect(w.provider.charge.callCount).to.equal(1);
      expectPaidOnce();
    });

    it("two concurrent deliveries: one CHARGE entry, stock taken once", async () => {
      w.workflow.sendSuccess.onSecondCall().rejects(awsError("InvalidToken"));
      const results = await Promise.all([deliver(order, "a"), deliver(order, "b")]);
      expect(results.flatMap((r) => r.batchItemFailures)).to.deep.equal([]);
      // Both may ask the provider (its idempotency key, the order id, makes that one charge);
      // the ledger records one CHARGE and the stock is taken once.
      expectPaidOnce();
    });

    it("a redelivery for a PROCESSING order goes on without a PROCESSING write or a second read", async () => {
      setStatus(w.orders, ORDER_ID, "PROCESSING");
      const seen: string[] = [];
      const realUpdate = w.orders.updateStatus.bind(w.orders);
      w.orders.updateStatus = async (...args) => {
        seen.push(args[2]);
        return realUpdate(...args);
      };
      const get = sinon.spy(w.orders, "get");
      expect(await deliver()).to.deep.equal({ batchItemFailures: [] });
      expect(seen).to.deep.equal(["PAID"]);
      expect(get.callCount).to.equal(1);
      expectPaidOnce();
    });

    it("an order that left NEW for FAILED before our PROCESSING write: own effects undone, nothing started", async () => {
      const realUpdate = w.orders.updateStatus.bind(w.orders);
      w.orders.updateStatus = async (...args) => {
        if (args[2] === "PROCESSING") await w.compensate({ Error: "States.Timeout" });
        return realUpdate(...args);
      };
      expect(await deliver()).to.deep.equal({ batchItemFailures: [] });
      expect(stored()).to.include({ status: "FAILED" });
      expect(w.provider.charge.called).to.equal(false);
      expect(actions()).to.deep.equal(["release", "release"]);
      expect(w.levels()).to.deep.equal(INITIAL);
    });

    it("a delivery for a COMPLETED order re-sends success and commits, no charge", async () => {
      setStatus(w.orders, ORDER_ID, "COMPLETED", { chargeId: CHARGE_ID });
      await deliver();
      expect(w.workflow.sendSuccess.calledOnceWithExactly(TOKEN, RESULT)).to.equal(true);
      expect(actions()).to.deep.equal(["commit"]);
      expect(w.provider.charge.called).to.equal(false);
    });
  });

  describe("redelivery after a crash at each step", () => {
    type Fault = {
      step: string;
      inject: (w: World) => void;
      firstRun: "retry" | "ack";
      providerCalls?: number;
    };
    const boom = () => awsError("ServiceUnavailable", "simulated crash");
    const faults: Fault[] = [
      {
        step: "SendTaskHeartbeat",
        inject: (w) => w.workflow.heartbeat.onFirstCall().rejects(boom()),
        firstRun: "retry",
      },
      {
        step: "loading the order",
        inject: (w) => sinon.stub(w.orders, "get").callThrough().onFirstCall().rejects(boom()),
        firstRun: "retry",
      },
      {
        step: "marking PROCESSING",
        inject: (w) => sinon.stub(w.orders, "updateStatus").callThrough().onFirstCall().rejects(boom()),
        firstRun: "retry",
      },
      {
        step: "invoking update_inventory",
        inject: (w) => w.inventory.invoke.onFirstCall().rejects(boom()),
        firstRun: "retry",
      },
      {
        step: "reserving the second SKU",
        inject: (w) => sinon.stub(w.stock, "reserve").callThrough().onSecondCall().rejects(boom()),
        firstRun: "retry",
      },
      {
        step: "reading the ledger",
        inject: (w) => sinon.stub(w.ledgerStore, "get").callThrough().onFirstCall().rejects(boom()),
        firstRun: "retry",
      },
      {
        step: "the provider call",
        inject: (w) => w.provider.charge.onFirstCall().rejects(boom()),
        firstRun: "retry",
        providerCalls: 2,
      },
      {
        step: "writing CHARGE after the provider charged",
        inject: (w) => sinon.stub(w.ledgerStore, "put").callThrough().onFirstCall().rejects(boom()),
        firstRun: "retry",
        providerCalls: 2,
      },
      {
        step: "marking PAID",
        inject: (w) => sinon.stub(w.orders, "updateStatus").callThrough().onSecondCall().rejects(boom()),
        firstRun: "retry",
      },
      {
        step: "SendTaskSuccess",
        inject: (w) => w.workflow.sendSuccess.onFirstCall().rejects(boom()),
        firstRun: "retry",
      },
      {
        step: "commit (best effort: acknowledged)",
        inject: (w) => w.inventory.invoke.onSecondCall().rejects(boom()),
        firstRun: "ack",
      },
    ];
    for (const f of faults) {
      it(`crash at ${f.step}: the retry completes with one charge and one reservation`, async () => {
        f.inject(w);
        const first = await deliver();
        expect(first.batchItemFailures).to.deep.equal(
          f.firstRun === "retry" ? [{ itemIdentifier: "msg-1" }] : [],
        );
        if (f.firstRun === "retry") await deliver();
        // And once more after success (the token is used by now).
        w.workflow.sendSuccess.rejects(awsError("InvalidToken"));
        expect((await deliver()).batchItemFailures).to.deep.equal([]);
        expectPaidOnce();
        expect(w.provider.charge.callCount, "provider calls").to.equal(f.providerCalls ?? 1);
        expect(w.workflow.sendFailure.called).to.equal(false);
      });
    }
  });

  describe("stale task token: acknowledge, leave nothing charged or reserved on a FAILED order", () => {
    for (const name of ["TaskTimedOut", "TaskDoesNotExist", "InvalidToken"]) {
      it(`${name} on heartbeat with a NEW order: ack, start nothing`, async () => {
        w.workflow.heartbeat.rejects(awsError(name));
        expect(await deliver()).to.deep.equal({ batchItemFailures: [] });
        expect(w.inventory.invoke.called).to.equal(false);
        expect(w.provider.charge.called).to.equal(false);
        expect(stored().status).to.equal("NEW");
        expect(w.workflow.sendSuccess.called || w.workflow.sendFailure.called).to.equal(false);
      });
    }

    it("stale token, order FAILED with a charge and a reservation left by a crashed delivery: refund + release", async () => {
      // A delivery reserved and charged, then crashed; the callback timed out and compensation
      // ran before that charge was written... and now the redelivery finds the order FAILED.
      await w.inventory.invoke({
        action: "reserve",
        orderId: ORDER_ID,
        items: [
          { sku: "SKU-1", quantity: 2 },
          { sku: "SKU-2", quantity: 1 },
        ],
      });
      setStatus(w.orders, ORDER_ID, "FAILED", {
        failure: { reason: "Timeout", refunded: false, restocked: false },
      });
      await w.ledgerStore.put({
        orderId: ORDER_ID,
        entry: "CHARGE",
        amount: 3000,
        currency: "USD",
        chargeId: CHARGE_ID,
        createdAt: "t",
      });
      w.workflow.heartbeat.rejects(awsError("TaskTimedOut"));
      expect(await deliver()).to.deep.equal({ batchItemFailures: [] });
      expect(w.entries()).to.deep.equal(["CHARGE", "REFUND"]);
      expect(w.levels()).to.deep.equal(INITIAL);
      expect(stored().failure).to.deep.equal({ reason: "Timeout", refunded: true, restocked: true });
      expect(w.provider.charge.called).to.equal(false);
    });

    it("a FAILED order with nothing left: ack, no refund, no restock, no charge", async () => {
      setStatus(w.orders, ORDER_ID, "FAILED", {
        failure: { reason: "Timeout", refunded: false, restocked: false },
      });
      expect(await deliver()).to.deep.equal({ batchItemFailures: [] });
      expect(w.provider.refund.called || w.provider.charge.called).to.equal(false);
      expect(w.levels()).to.deep.equal(INITIAL);
      expect(stored().failure).to.deep.equal({ reason: "Timeout", refunded: false, restocked: false });
    });

    it("SendTaskSuccess stale while the order is still PAID: ack, keep the reservation for compensation", async () => {
      w.workflow.sendSuccess.rejects(awsError("TaskTimedOut"));
      expect(await deliver()).to.deep.equal({ batchItemFailures: [] });
      expect(actions()).to.deep.equal(["reserve"]);
      expect(markers()).to.deep.equal([2, 1]);
      // Compensation for the timeout then undoes everything.
      const comp = await w.compensate({ Error: "States.Timeout" });
      expect(comp).to.deep.equal({
        orderId: ORDER_ID,
        status: "FAILED",
        failure: { reason: "Timeout", refunded: true, restocked: true },
      });
      expect(w.levels()).to.deep.equal(INITIAL);
      expect(w.entries()).to.deep.equal(["CHARGE", "REFUND"]);
    });

    it("SendTaskFailure stale, compensation ran before our reserve: the reservation taken since is released", async () => {
      order = makeOrder({ paymentToken: "tok_decline" });
      w = buildWorld(order);
      // Compensation (callback timeout) runs after we marked PROCESSING, before we reserve.
      w.inventory.invoke.onFirstCall().callsFake(async (req: InventoryRequest) => {
        await w.compensate({ Error: "States.Timeout" });
        return w.runInventory(req);
      });
      w.workflow.sendFailure.rejects(awsError("TaskTimedOut"));
      expect(await deliver()).to.deep.equal({ batchItemFailures: [] });
      expect(w.levels()).to.deep.equal(INITIAL);
      expect(stored()).to.include({ status: "FAILED" });
      expect(stored().failure).to.deep.include({ reason: "Timeout", refunded: false, restocked: true });
      expect(w.entries()).to.deep.equal(["DECLINE"]);
    });
  });

  describe("race with compensation (callback timeout while paying)", () => {
    it("compensation ran after our reserve and before our charge: we refund our own charge", async () => {
      w.provider.charge.callsFake(async (req: { orderId: string }) => {
        await w.compensate({ Error: "States.Timeout" });
        return { status: "CHARGED", chargeId: simulatedChargeId(req.orderId) };
      });
      expect(await deliver()).to.deep.equal({ batchItemFailures: [] });
      expect(stored().status).to.equal("FAILED");
      expect(w.entries()).to.deep.equal(["CHARGE", "REFUND"]);
      expect(w.levels()).to.deep.equal(INITIAL);
      expect(stored().failure).to.deep.include({ reason: "Timeout", refunded: true, restocked: true });
      expect(w.workflow.sendSuccess.called).to.equal(false);
      expect(w.provider.refund.callCount).to.equal(1);
    });

    it("compensation ran after our charge and before PAID: it refunds, we don't refund again", async () => {
      const realPut = w.ledgerStore.put.bind(w.ledgerStore);
      w.ledgerStore.put = async (entry) => {
        const ok = await realPut(entry);
        if (entry.entry === "CHARGE") await w.compensate({ Error: "States.HeartbeatTimeout" });
        return ok;
      };
      expect(await deliver()).to.deep.equal({ batchItemFailures: [] });
      expect(stored()).to.include({ status: "FAILED" });
      expect(stored().failure).to.deep.include({ reason: "Timeout", refunded: true, restocked: true });
      expect(w.provider.refund.callCount).to.equal(1);
      expect(w.levels()).to.deep.equal(INITIAL);
      expect(w.workflow.sendSuccess.called).to.equal(false);
    });

    it("compensation ran after PAID (SendTaskSuccess timed out): nothing committed, everything undone once", async () => {
      w.workflow.sendSuccess.callsFake(async () => {
        await w.compensate({ Error: "States.Timeout" });
        throw awsError("TaskTimedOut");
      });
      expect(await deliver()).to.deep.equal({ batchItemFailures: [] });
      expect(actions()).not.to.include("commit");
      expect(stored().failure).to.deep.include({ reason: "Timeout", refunded: true, restocked: true });
      expect(w.provider.refund.callCount).to.equal(1);
      expect(w.levels()).to.deep.equal(INITIAL);
    });
  });
});
