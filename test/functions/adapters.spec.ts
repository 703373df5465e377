import { expect } from "chai";
import * as sinon from "sinon";
import { PutItemCommand } from "@aws-sdk/client-dynamodb";
import { LambdaClient } from "@aws-sdk/client-lambda";
import { SFNClient } from "@aws-sdk/client-sfn";
import { SNSClient } from "@aws-sdk/client-sns";
import { marshall } from "@aws-sdk/util-dynamodb";
import { lambdaCompensator, lambdaCompleter } from "../../functions/sweepOrders";
import { updateInventoryHandler } from "../../functions/updateInventory";
import { dynamoCatalogue, lookupPrices } from "../../functions/shared/catalogue";
import { lambdaInventoryClient } from "../../functions/shared/inventoryClient";
import { dynamoInventoryStore } from "../../functions/shared/inventoryStore";
import { dynamoLedgerStore } from "../../functions/shared/ledger";
import { snsNotifier } from "../../functions/shared/notifier";
import { dynamoOrderStore } from "../../functions/shared/orderStore";
import { transitionOrder } from "../../functions/shared/status";
import { sfnWorkflowClient } from "../../functions/shared/workflowClient";
import { freshTables, type TableNames } from "./dynamoTables";
import { captureLogger, makeOrder, ORDER_ID, OTHER_ORDER_ID, useDynalite } from "./support";
import { awsError } from "./world";

describe("DynamoDB adapters (against dynalite)", function () {
  this.timeout(10_000);
  const dynamo = useDynalite();
  let names: TableNames;
  beforeEach(async () => (names = await freshTables(dynamo.client)));

  const seedStock = (sku: string, stock: number, extra: Record<string, unknown> = { reservations: {} }) =>
    dynamo.client.send(
      new PutItemCommand({
        TableName: names.inventory,
        Item: marshall({ sku, price: 100, stock, ...extra }),
      }),
    );

  describe("orders", () => {
    it("create is conditional; get reads it back", async () => {
      const store = dynamoOrderStore(dynamo.client, names.orders);
      expect(await store.create(makeOrder())).to.equal(true);
      expect(await store.create(makeOrder({ requestHash: "other" }))).to.equal(false);
      expect(await store.get(ORDER_ID, { consistent: true })).to.deep.equal(makeOrder());
      expect(await store.get(OTHER_ORDER_ID)).to.equal(undefined);
    });

    it("status transitions are conditional, idempotent when repeated, rejected otherwise", async () => {
      const store = dynamoOrderStore(dynamo.client, names.orders);
      await store.create(makeOrder());
      expect((await transitionOrder(store, ORDER_ID, "PAID", { updatedAt: "t1" })).outcome).to.equal(
        "rejected",
      );
      const p = await transitionOrder(store, ORDER_ID, "PROCESSING", { updatedAt: "t1" });
      expect(p.outcome).to.equal("applied");
      expect(p.order).to.include({ status: "PROCESSING", updatedAt: "t1" });
      expect((await transitionOrder(store, ORDER_ID, "PROCESSING", { updatedAt: "t2" })).outcome).to.equal(
        "unchanged",
      );
      const paid = await transitionOrder(store, ORDER_ID, "PAID", { updatedAt: "t3", chargeId: "ch_1" });
      expect(paid.order).to.include({ status: "PAID", chargeId: "ch_1" });
      const failed = await transitionOrder(store, ORDER_ID, "FAILED", {
        updatedAt: "t4",
        failure: { reason: "Timeout", refunded: false, restocked: false },
      });
      expect(failed.outcome).to.equal("applied");
      expect((await transitionOrder(store, ORDER_ID, "COMPLETED", { updatedAt: "t5" })).outcome).to.equal(
        "rejected",
      );
      expect((await transitionOrder(store, OTHER_ORDER_ID, "FAILED", { updatedAt: "t5" })).order).to.equal(
        undefined,
      );
      expect(await store.get(OTHER_ORDER_ID)).to.equal(undefined);
    });

    it("failure flags only turn true, only on a FAILED order with a failure record; markNotified once", async () => {
      const store = dynamoOrderStore(dynamo.client, names.orders);
      await store.create(makeOrder({ status: "FAILED" }));
      expect(await store.setFailureFlags(ORDER_ID, { refunded: true }, "t")).to.equal(undefined);
      await store.create(makeOrder({ orderId: OTHER_ORDER_ID, status: "PAID" }));
      expect(await store.setFailureFlags(OTHER_ORDER_ID, { refunded: true }, "t")).to.equal(undefined);
      const failed = await transitionOrder(store, OTHER_ORDER_ID, "FAILED", {
        updatedAt: "t1",
        failure: { reason: "OutOfStock", refunded: false, restocked: false },
      });
      expect(failed.order!.failure).to.deep.equal({
        reason: "OutOfStock",
        refunded: false,
        restocked: false,
      });
      const flagged = await store.setFailureFlags(OTHER_ORDER_ID, { restocked: true }, "t3");
      expect(flagged!.failure).to.deep.equal({ reason: "OutOfStock", refunded: false, restocked: true });
      const again = await store.setFailureFlags(OTHER_ORDER_ID, { refunded: true }, "t3b");
      expect(again!.failure).to.deep.equal({ reason: "OutOfStock", refunded: true, restocked: true });
      // compensatedAt: the first finish is kept.
      const done = await store.setFailureFlags(OTHER_ORDER_ID, { compensatedAt: "t6" }, "t6");
      expect(done!.failure).to.deep.include({ compensatedAt: "t6", refunded: true });
      const later = await store.setFailureFlags(OTHER_ORDER_ID, { compensatedAt: "t7" }, "t7");
      expect(later!.failure!.compensatedAt).to.equal("t6");
      expect(await store.markNotified(ORDER_ID, "t4", "m1")).to.equal(true);
      expect(await store.markNotified(ORDER_ID, "t5", "m2")).to.equal(false);
      expect(await store.get(ORDER_ID)).to.include({ notifiedAt: "t4", notificationId: "m1" });
    });

    it("lists newest first through byCreatedAt / byStatus with a resumable key", async () => {
      const store = dynamoOrderStore(dynamo.client, names.orders);
      const ids = [ORDER_ID, OTHER_ORDER_ID, "0b1e2d3c-4a5b-4c6d-8e7f-a0b1c2d3e4f5"];
      for (const [i, orderId] of ids.entries()) {
        await store.create(
          makeOrder({
            orderId,
            status: i === 1 ? "PAID" : "NEW",
            createdAt: `2026-01-0${i + 1}T00:00:00.000Z`,
          }),
        );
      }
      const p1 = await store.list({ limit: 2 });
      expect(p1.items.map((o) => o.orderId)).to.deep.equal([ids[2], ids[1]]);
      expect(p1.lastKey).to.deep.equal({
        orderId: ids[1],
        entity: "ORDER",
        createdAt: "2026-01-02T00:00:00.000Z",
      });
      const p2 = await store.list({ limit: 2, startKey: p1.lastKey });
      expect(p2.items.map((o) => o.orderId)).to.deep.equal([ids[0]]);
      const byStatus = await store.list({ status: "NEW", limit: 10 });
      expect(byStatus.items.map((o) => o.orderId)).to.deep.equal([ids[2], ids[0]]);
    });
  });

  describe("inventory", () => {
    it("reserve/release/commit with markers; a missing map is created", async () => {
      await seedStock("A", 5);
      await seedStock("B", 5, {});
      const run = updateInventoryHandler({
        inventory: dynamoInventoryStore(dynamo.client, names.inventory),
        log: captureLogger(),
      });
      const items = [
        { sku: "A", quantity: 2 },
        { sku: "B", quantity: 1 },
      ];
      expect(await run({ action: "reserve", orderId: ORDER_ID, items })).to.deep.equal({
        action: "reserve",
        ok: true,
      });
      expect(await run({ action: "reserve", orderId: ORDER_ID, items })).to.deep.equal({
        action: "reserve",
        ok: true,
      });
      const store = dynamoInventoryStore(dynamo.client, names.inventory);
      expect(await store.get("A")).to.deep.equal({ sku: "A", stock: 3, reservations: { [ORDER_ID]: 2 } });
      expect(await store.get("B")).to.deep.equal({ sku: "B", stock: 4, reservations: { [ORDER_ID]: 1 } });
      expect(await run({ action: "release", orderId: ORDER_ID, items })).to.deep.equal({
        action: "release",
        released: true,
      });
      expect(await run({ action: "release", orderId: ORDER_ID, items })).to.deep.equal({
        action: "release",
        released: false,
      });
      expect((await store.get("A"))!.stock).to.equal(5);
      await run({ action: "reserve", orderId: ORDER_ID, items });
      expect(await run({ action: "commit", orderId: ORDER_ID, items })).to.deep.equal({
        action: "commit",
        committed: true,
      });
      expect(await store.get("A")).to.deep.equal({ sku: "A", stock: 3, reservations: {} });
    });

    it("30 orders racing for 20 units: exactly 20 succeed, stock ends at 0, never below", async () => {
      await seedStock("HOT", 20);
      const run = updateInventoryHandler({
        inventory: dynamoInventoryStore(dynamo.client, names.inventory),
        log: captureLogger(),
      });
      const ids = Array.from(
        { length: 30 },
        (_, i) => `00000000-0000-4000-8000-${String(i).padStart(12, "0")}`,
      );
      const results = await Promise.all(
        ids.map((orderId) => run({ action: "reserve", orderId, items: [{ sku: "HOT", quantity: 1 }] })),
      );
      expect(results.filter((r) => r.action === "reserve" && r.ok)).to.have.length(20);
      expect((await dynamoInventoryStore(dynamo.client, names.inventory).get("HOT"))!.stock).to.equal(0);
    });

    it("a short SKU gives back what the order took", async () => {
      await seedStock("A", 5);
      await seedStock("B", 0);
      const run = updateInventoryHandler({
        inventory: dynamoInventoryStore(dynamo.client, names.inventory),
        log: captureLogger(),
      });
      const res = await run({
        action: "reserve",
        orderId: ORDER_ID,
        items: [
          { sku: "A", quantity: 2 },
          { sku: "B", quantity: 1 },
        ],
      });
      expect(res).to.deep.equal({ action: "reserve", ok: false, reason: "OutOfStock", skus: ["B"] });
      expect(await dynamoInventoryStore(dynamo.client, names.inventory).get("A")).to.deep.equal({
        sku: "A",
        stock: 5,
        reservations: {},
      });
    });
  });

  describe("ledger and catalogue", () => {
    it("ledger puts are conditional per (orderId, entry)", async () => {
      const store = dynamoLedgerStore(dynamo.client, names.payments);
      const charge = {
        orderId: ORDER_ID,
        entry: "CHARGE" as const,
        amount: 5,
        currency: "USD" as const,
        chargeId: "ch",
        createdAt: "t",
      };
      expect(await store.put(charge)).to.equal(true);
      expect(await store.put({ ...charge, chargeId: "other" })).to.equal(false);
      expect(await store.get(ORDER_ID, "CHARGE")).to.deep.equal(charge);
      expect(await store.get(ORDER_ID, "REFUND")).to.equal(undefined);
    });

    it("the catalogue reads prices with BatchGetItem; unknown SKUs are absent", async () => {
      await seedStock("A", 1);
      const prices = await lookupPrices(dynamoCatalogue(dynamo.client, names.inventory), ["A", "NOPE"]);
      expect([...prices]).to.deep.equal([["A", 100]]);
    });
  });
});

describe("SDK adapters (stubbed send)", () => {
  afterEach(() => sinon.restore());

  it("workflow: StartExecution named after the order; ExecutionAlreadyExists is alreadyExists", async () => {
    const sfn = new SFNClient({});
    const send = sinon.stub(sfn, "send").resolves({});
    const wf = sfnWorkflowClient(sfn, "arn:sm");
    expect(await wf.start(ORDER_ID, { order: 1 })).to.equal("started");
    const cmd = send.firstCall.args[0] as unknown as { constructor: { name: string }; input: unknown };
    expect(cmd.constructor.name).to.equal("StartExecutionCommand");
    expect(cmd.input).to.deep.equal({ stateMachineArn: "arn:sm", name: ORDER_ID, input: '{"order":1}' });
    send.rejects(awsError("ExecutionAlreadyExists"));
    expect(await wf.start(ORDER_ID, {})).to.equal("alreadyExists");
    send.rejects(awsError("ExecutionLimitExceeded"));
    let caught: unknown;
    await wf.start(ORDER_ID, {}).catch((e: unknown) => (caught = e));
    expect(caught).to.include({ name: "ExecutionLimitExceeded" });
  });

  it("workflow: SendTaskSuccess/Failure/Heartbeat with the token; errors keep their SDK names", async () => {
    const sfn = new SFNClient({});
    const send = sinon.stub(sfn, "send").resolves({});
    const wf = sfnWorkflowClient(sfn);
    await wf.sendSuccess("tok", { a: 1 });
    await wf.sendFailure("tok", "E".repeat(300), "cause");
    await wf.heartbeat("tok");
    const cmds = send
      .getCalls()
      .map((c) => c.args[0] as unknown as { constructor: { name: string }; input: Record<string, unknown> });
    expect(cmds.map((c) => c.constructor.name)).to.deep.equal([
      "SendTaskSuccessCommand",
      "SendTaskFailureCommand",
      "SendTaskHeartbeatCommand",
    ]);
    expect(cmds[0].input).to.deep.equal({ taskToken: "tok", output: '{"a":1}' });
    expect((cmds[1].input.error as string).length).to.equal(256);
    send.rejects(awsError("TaskTimedOut"));
    let caught: unknown;
    await wf.heartbeat("tok").catch((e: unknown) => (caught = e));
    expect(caught).to.include({ name: "TaskTimedOut" });
  });

  it("inventory client: RequestResponse invoke; a function error becomes InventoryFunctionError", async () => {
    const lambda = new LambdaClient({});
    const send = sinon.stub(lambda, "send");
    const inv = lambdaInventoryClient(lambda, "update_inventory");
    send.resolves({ StatusCode: 200, Payload: Buffer.from('{"action":"release","released":true}') } as never);
    const req = { action: "release" as const, orderId: ORDER_ID, items: [{ sku: "A", quantity: 1 }] };
    expect(await inv.invoke(req)).to.deep.equal({ action: "release", released: true });
    const cmd = send.firstCall.args[0] as unknown as {
      constructor: { name: string };
      input: { FunctionName: string; InvocationType: string; Payload: Uint8Array };
    };
    expect(cmd.constructor.name).to.equal("InvokeCommand");
    expect(cmd.input.InvocationType).to.equal("RequestResponse");
    expect(JSON.parse(Buffer.from(cmd.input.Payload).toString())).to.deep.equal(req);
    send.resolves({
      StatusCode: 200,
      FunctionError: "Unhandled",
      Payload: Buffer.from('{"errorMessage":"x"}'),
    } as never);
    let caught: unknown;
    await inv.invoke(req).catch((e: unknown) => (caught = e));
    expect(caught).to.include({ name: "InventoryFunctionError" });
    expect((caught as { detail: unknown }).detail).to.deep.equal({ errorMessage: "x" });
  });

  it("compensator: a function error keeps compensate_order's errorType as the error's name", async () => {
    const lambda = new LambdaClient({});
    const send = sinon.stub(lambda, "send");
    const compensator = lambdaCompensator(lambda, "compensate_order");
    const input = {
      order: {
        orderId: ORDER_ID,
        items: [{ sku: "A", quantity: 1 }],
        total: { amount: 1, currency: "USD" as const },
      },
      error: { Error: "States.Timeout" },
    };
    const result = {
      orderId: ORDER_ID,
      status: "FAILED",
      failure: { reason: "Timeout", refunded: false, restocked: true },
    };
    send.resolves({ StatusCode: 200, Payload: Buffer.from(JSON.stringify(result)) } as never);
    expect(await compensator.compensate(input)).to.deep.equal(result);
    send.resolves({
      StatusCode: 200,
      FunctionError: "Unhandled",
      Payload: Buffer.from('{"errorType":"OrderCompleted","errorMessage":"done"}'),
    } as never);
    let caught: Error | undefined;
    await compensator.compensate(input).catch((e: Error) => (caught = e));
    expect(caught).to.be.instanceOf(Error);
    expect(caught).to.include({ name: "OrderCompleted" });
    expect(caught!.message).to.contain('"errorMessage":"done"');
    send.resolves({ StatusCode: 200, FunctionError: "Unhandled", Payload: Buffer.from("not json") } as never);
    caught = undefined;
    await compensator.compensate(input).catch((e: Error) => (caught = e));
    expect(caught).to.include({ name: "FunctionError" });
  });

  it("completer: a function error keeps send_notification's errorType as the error's name, and its message", async () => {
    const lambda = new LambdaClient({});
    const send = sinon.stub(lambda, "send");
    const completer = lambdaCompleter(lambda, "send_notification");
    const input = {
      order: {
        orderId: ORDER_ID,
        items: [{ sku: "A", quantity: 1 }],
        total: { amount: 1, currency: "USD" as const },
      },
      payment: { orderId: ORDER_ID, chargeId: "ch_1", amount: 1 },
    };
    send.resolves({ StatusCode: 200, Payload: Buffer.from('{"notified":true}') } as never);
    await completer.complete(input);
    const cmd = send.firstCall.args[0] as unknown as { input: { FunctionName: string; Payload: Uint8Array } };
    expect(cmd.input.FunctionName).to.equal("send_notification");
    expect(JSON.parse(Buffer.from(cmd.input.Payload).toString())).to.deep.equal(input);
    send.resolves({
      StatusCode: 200,
      FunctionError: "Unhandled",
      Payload: Buffer.from('{"errorType":"OrderNotPaid","errorMessage":"no"}'),
    } as never);
    let caught: Error | undefined;
    await completer.complete(input).catch((e: Error) => (caught = e));
    expect(caught).to.include({ name: "OrderNotPaid" });
    expect(caught!.message).to.equal(
      'send_notification failed: {"errorType":"OrderNotPaid","errorMessage":"no"}',
    );
    send.resolves({ StatusCode: 200, FunctionError: "Unhandled", Payload: Buffer.from("not json") } as never);
    caught = undefined;
    await completer.complete(input).catch((e: Error) => (caught = e));
    expect(caught).to.include({ name: "FunctionError", message: "send_notification failed: not json" });
  });

  it("notifier: one Publish with MessageStructure json, per-protocol bodies, subject and attributes", async () => {
    const sns = new SNSClient({});
    const send = sinon.stub(sns, "send").resolves({ MessageId: "m-1" } as never);
    const id = await snsNotifier(sns, "arn:topic").publish({
      subject: "S",
      default: "d",
      email: "e",
      sms: "s",
      attributes: { orderId: ORDER_ID, status: "COMPLETED" },
    });
    expect(id).to.equal("m-1");
    const cmd = send.firstCall.args[0] as unknown as {
      constructor: { name: string };
      input: Record<string, unknown>;
    };
    expect(cmd.constructor.name).to.equal("PublishCommand");
    expect(cmd.input).to.deep.equal({
      TopicArn: "arn:topic",
      Subject: "S",
      MessageStructure: "json",
      Message: JSON.stringify({ default: "d", email: "e", sms: "s" }),
      MessageAttributes: {
        orderId: { DataType: "String", StringValue: ORDER_ID },
        status: { DataType: "String", StringValue: "COMPLETED" },
      },
    });
  });
});
