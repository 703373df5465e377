import { expect } from "chai";
import * as sinon from "sinon";
import {
  buildCompletionNotice,
  formatMoney,
  sendNotificationHandler,
  SMS_MAX,
} from "../../functions/sendNotification";
import type { Notice } from "../../functions/shared/notifier";
import { toWorkflowOrder } from "../../functions/shared/order";
import type { NotifyInput, Order } from "../../functions/shared/types";
import { captureLogger, clock, fakeOrderStore, makeOrder, ORDER_ID, type FakeOrderStore } from "./support";

describe("send_notification", () => {
  let orders: FakeOrderStore;
  let publish: sinon.SinonStub;
  let order: Order;
  const input = (o: Order = order): NotifyInput => ({
    order: toWorkflowOrder(o),
    payment: { orderId: o.orderId, chargeId: "ch_1", amount: o.total.amount },
  });
  const run = (i: NotifyInput = input()) =>
    sendNotificationHandler({ orders, notifier: { publish }, now: clock(), log: captureLogger() })(i);

  beforeEach(() => {
    order = makeOrder({ status: "PAID", chargeId: "ch_1" });
    orders = fakeOrderStore([order]);
    publish = sinon.stub().resolves("mid-1");
  });
  afterEach(() => sinon.restore());

  it("PAID -> COMPLETED, publishes once, records notifiedAt and the message id", async () => {
    expect(await run()).to.deep.equal({ orderId: ORDER_ID, messageId: "mid-1" });
    const stored = orders.items.get(ORDER_ID)!;
    expect(stored.status).to.equal("COMPLETED");
    expect(stored.notifiedAt).to.be.a("string");
    expect(stored.notificationId).to.equal("mid-1");
    expect(publish.calledOnce).to.equal(true);
  });

  it("builds one body per protocol, a subject and attributes, without customer data", async () => {
    await run();
    const notice = publish.firstCall.args[0] as Notice;
    expect(notice.subject).to.equal(`Order ${ORDER_ID} completed`);
    expect(notice.subject.length).to.be.at.most(100);
    expect(notice.subject).to.match(/^[\x20-\x7e]+$/);
    expect(notice.attributes).to.deep.equal({ orderId: ORDER_ID, status: "COMPLETED" });
    expect(notice.email).to.contain(ORDER_ID);
    expect(notice.email).to.contain("2 x SKU-1 @ USD 12.50 = USD 25.00");
    expect(notice.email).to.contain("1 x SKU-2 @ USD 5.00 = USD 5.00");
    expect(notice.email).to.contain("Total: USD 30.00");
    expect(notice.sms).to.equal(`Order ${ORDER_ID} complete: 3 items, USD 30.00.`);
    expect(notice.sms.length).to.be.at.most(SMS_MAX);
    expect(JSON.parse(notice.default)).to.deep.include({
      type: "OrderCompleted",
      orderId: ORDER_ID,
      status: "COMPLETED",
      total: { amount: 3000, currency: "USD" },
    });
    expect(JSON.stringify(notice)).not.to.match(/a@example\.com|tok_visa/);
  });

  it("keeps the SMS within 140 characters for the longest possible order (never cut)", () => {
    const big = makeOrder({
      items: Array.from({ length: 50 }, (_, i) => ({
        sku: `SKU-${"X".repeat(50)}-${i}`,
        quantity: 100,
        unitPrice: 99_999_999,
      })),
      total: { amount: Number.MAX_SAFE_INTEGER, currency: "USD" },
    });
    const sms = buildCompletionNotice(big).sms;
    expect(sms).to.equal(`Order ${ORDER_ID} complete: 5000 items, USD 90071992547409.91.`);
    expect(sms.length).to.be.at.most(SMS_MAX);
  });

  it("formats integer cents without floating point", () => {
    expect(formatMoney(0, "USD")).to.equal("USD 0.00");
    expect(formatMoney(5, "USD")).to.equal("USD 0.05");
    expect(formatMoney(123456789, "USD")).to.equal("USD 1234567.89");
  });

  it("a retried invocation does not publish again and returns the first message id", async () => {
    await run();
    expect(await run()).to.deep.equal({ orderId: ORDER_ID, messageId: "mid-1" });
    expect(publish.calledOnce).to.equal(true);
  });

  it("counts OrdersCompleted once per order: not on a retry, not when a concurrent invocation recorded first", async () => {
    const log = captureLogger();
    const handler = sendNotificationHandler({ orders, notifier: { publish }, now: clock(), log });
    const completedLines = () => log.lines.filter((l) => l.OrdersCompleted !== undefined);
    await handler(input());
    expect(completedLines()).to.have.length(1);
    expect(completedLines()[0]).to.include({ OrdersCompleted: 1, messageId: "mid-1" });
    await handler(input());
    expect(completedLines()).to.have.length(1);
    // A concurrent invocation published too and recorded its notice first.
    orders.items.set(ORDER_ID, { ...order, status: "COMPLETED" });
    const realMark = orders.markNotified.bind(orders);
    orders.markNotified = async (orderId, at) => {
      await realMark(orderId, at, "mid-other");
      return realMark(orderId, at, "mid-1");
    };
    expect(await handler(input())).to.deep.equal({ orderId: ORDER_ID, messageId: "mid-1" });
    expect(publish.callCount).to.equal(2);
    expect(completedLines()).to.have.length(1);
  });

  it("a retry after Publish failed publishes (nothing was sent)", async () => {
    publish.onFirstCall().rejects(new Error("SNS throttled"));
    let caught: unknown;
    await run().catch((e: unknown) => (caught = e));
    expect(caught).to.be.instanceOf(Error);
    expect(orders.items.get(ORDER_ID)!.notifiedAt).to.equal(undefined);
    expect(await run()).to.deep.equal({ orderId: ORDER_ID, messageId: "mid-1" });
    expect(publish.callCount).to.equal(2);
  });

  it("refuses an order that is not PAID (InvalidTransition), publishes nothing", async () => {
    orders.items.set(ORDER_ID, { ...order, status: "FAILED" });
    let caught: unknown;
    await run().catch((e: unknown) => (caught = e));
    expect(caught).to.include({ name: "InvalidTransition" });
    expect(publish.called).to.equal(false);
  });

  it("a missing order is NotFound", async () => {
    orders.items.clear();
    let caught: unknown;
    await run().catch((e: unknown) => (caught = e));
    expect(caught).to.include({ name: "NotFound" });
    expect(publish.called).to.equal(false);
  });

  it("refuses invalid input (ValidationError)", async () => {
    let caught: unknown;
    await run({ order: { orderId: "x" } } as unknown as NotifyInput).catch((e: unknown) => (caught = e));
    expect(caught).to.include({ name: "ValidationError" });
    expect(orders.items.get(ORDER_ID)!.status).to.equal("PAID");
  });
});
