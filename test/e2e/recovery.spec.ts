/**
 * Recovery, offline: the DLQ redrive (scripts/redrive-dlq.ts) and the sweeper (functions/sweepOrders.ts)
 * bring stuck orders to an end, and redriving messages of orders already terminal changes nothing.
 */
import { expect } from "chai";
import { randomUUID } from "node:crypto";
import { UpdateItemCommand } from "@aws-sdk/client-dynamodb";
import Ajv from "ajv-draft-04";
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import * as path from "node:path";
import { OPENAPI_FILE } from "../../scripts/openapi";
import { discoverTarget, redriveDlq } from "../../scripts/redrive-dlq";
import type { SweepReport } from "../../functions/sweepOrders";
import { dynamoOrderStore } from "../../functions/shared/orderStore";
import type { Order } from "../../functions/shared/types";
import type { OfflineSystem } from "../../local/system";
import {
  call,
  E2E_TIMINGS,
  items,
  placeOrder,
  sleep,
  stockOf,
  useOfflineSystem,
  waitForTerminal,
} from "./support/offline";

async function until(what: string, check: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

describe("recovery, offline: DLQ redrive and the sweeper", function () {
  this.timeout(60_000);
  const quiet = { callback: () => undefined };
  // The callback waits long enough for a poisoned message to reach the DLQ and be redriven;
  // the heartbeat likewise (process_payment no longer heartbeats once the message is dead).
  const running = useOfflineSystem({
    timings: { ...E2E_TIMINGS, callbackTimeoutSeconds: 40, heartbeatSeconds: 30 },
  });
  let system: OfflineSystem;
  beforeEach(() => (system = running()));

  const dlqDepth = async () => {
    const d = await system.sqs.depth(system.queues.deadLetter);
    return d.visible + d.inFlight;
  };
  const queuesEmpty = async () => {
    const w = await system.sqs.depth(system.queues.work);
    return w.visible + w.inFlight === 0 && (await dlqDepth()) === 0;
  };
  const redrive = async () => {
    const target = await discoverTarget(system.sqs.client);
    expect(target).to.deep.equal({
      queueUrl: system.sqs.urlOf(system.queues.work),
      deadLetterQueueUrl: system.sqs.urlOf(system.queues.deadLetter),
    });
    return redriveDlq(system.sqs.client, target, { mode: "copy", log: quiet.callback });
  };

  it("redrive recovers an order whose payment message died while the provider failed", async () => {
    const order = await placeOrder(system, [{ sku: "SKU-3", quantity: 1 }], "tok_fail");
    await until("the payment message in the DLQ", async () => (await dlqDepth()) === 1);
    expect((await call<Order>(system, "GET", `/orders/${order.orderId}`)).json.status).to.be.oneOf([
      "PROCESSING",
      "NEW",
    ]);

    // The provider recovers (here: the order's token now charges).
    await system.dynamo.client.send(
      new UpdateItemCommand({
        TableName: system.tables.orders,
        Key: { orderId: { S: order.orderId } },
        UpdateExpression: "SET paymentToken = :t",
        ExpressionAttributeValues: { ":t": { S: "tok_visa" } },
      }),
    );
    const result = await redrive();
    expect(result).to.deep.equal({ mode: "copy", moved: 1 });

    const done = await waitForTerminal(system, order.orderId, 20_000);
    expect(done.status).to.equal("COMPLETED");
    const charges = (await items<{ orderId: string; entry: string }>(system, system.tables.payments)).filter(
      (e) => e.orderId === order.orderId,
    );
    expect(charges.map((c) => c.entry)).to.deep.equal(["CHARGE"]);
    await until("both queues empty", queuesEmpty);
  });

  it("a redriven message of an order already FAILED is acknowledged without side effects", async () => {
    const before = await stockOf(system, "SKU-2");
    const order = await placeOrder(system, [{ sku: "SKU-2", quantity: 1 }], "tok_fail");
    await until("the payment message in the DLQ", async () => (await dlqDepth()) === 1);
    // Compensation runs first (an operator stopped the execution; the same as a callback timeout).
    const arn = `${system.topology.stateMachines[0].arn.replace(":stateMachine:", ":execution:")}:${order.orderId}`;
    system.sfn.stopExecution(arn, "States.Timeout", "test");
    await compensate(order.orderId);
    const failed = await waitForTerminal(system, order.orderId);
    expect(failed.status).to.equal("FAILED");
    const ledgerBefore = await items(system, system.tables.payments);
    const stockAfterFailure = await stockOf(system, "SKU-2");
    expect(stockAfterFailure).to.equal(before);

    expect(await redrive()).to.deep.equal({ mode: "copy", moved: 1 });
    await until("both queues empty", queuesEmpty);
    await sleep(300);
    expect(await items(system, system.tables.payments)).to.deep.equal(ledgerBefore);
    expect(await stockOf(system, "SKU-2")).to.equal(before);
    expect((await call<Order>(system, "GET", `/orders/${order.orderId}`)).json).to.deep.equal(failed);
  });

  async function compensate(orderId: string) {
    const fn = system.topology.functions.find((f) => f.handler === "compensateOrder")!;
    const stored = (await items<Order>(system, system.tables.orders)).find((o) => o.orderId === orderId)!;
    await system.functions.invoke(fn.name, {
      order: {
        orderId,
        items: stored.items.map(({ sku, quantity }) => ({ sku, quantity })),
        total: stored.total,
      },
      error: { Error: "States.Timeout", Cause: "test" },
    });
  }

  it("the sweeper starts the missing execution of an order stored NEW long ago, once", async () => {
    const sweeper = system.topology.functions.find((f) => f.handler === "sweepOrders");
    expect(sweeper, "sweep_orders in the offline topology").to.not.equal(undefined);
    const orderId = randomUUID();
    const createdAt = new Date(Date.now() - 3600_000).toISOString();
    const stuck: Order = {
      orderId,
      status: "NEW",
      entity: "ORDER",
      customer: { email: "ada@example.com" },
      items: [{ sku: "SKU-1", quantity: 1, unitPrice: 2450 }],
      total: { amount: 2450, currency: "USD" },
      paymentToken: "tok_visa",
      requestHash: "stored-before-a-crash",
      createdAt,
      updatedAt: createdAt,
    };
    // create_order stored the order (through the store: it adds the listing shard keys the
    // sweeper queries) and crashed before StartExecution.
    expect(await dynamoOrderStore(system.dynamo.client, system.tables.orders).create(stuck)).to.equal(true);

    const first = (await system.functions.invoke(sweeper!.name, { source: "aws.events" })) as SweepReport;
    expect(first.entries).to.deep.equal([{ orderId, status: "NEW", action: "started" }]);
    expect((await waitForTerminal(system, orderId, 20_000)).status).to.equal("COMPLETED");

    const second = (await system.functions.invoke(sweeper!.name, {})) as SweepReport;
    expect(second.entries).to.deep.equal([]);
    expect(second.inFlight).to.equal(0);
  });
  it("the offline API answers what openapi.json documents, status and body, for each route", async () => {
    const doc = JSON.parse(readFileSync(OPENAPI_FILE, "utf8")) as {
      paths: Record<
        string,
        Record<
          string,
          { responses: Record<string, { content: { "application/json": { schema: { $ref: string } } } }> }
        >
      >;
    };
    const ajv = new Ajv({ strict: false, logger: false, validateFormats: false });
    ajv.addSchema(doc, "openapi");
    const check = async (
      method: string,
      route: string,
      path: string,
      status: number,
      opts: Parameters<typeof call>[3] = {},
    ) => {
      const reply = await call(system, method, path, opts);
      expect(reply.status, `${method} ${path}: ${reply.text}`).to.equal(status);
      const documented = doc.paths[route][method.toLowerCase()].responses[String(status)];
      expect(documented, `${method} ${route} documents ${status}`).to.not.equal(undefined);
      const validate = ajv.getSchema(`openapi${documented.content["application/json"].schema.$ref}`)!;
      expect(
        validate(reply.json),
        `${method} ${path} ${status}: ${JSON.stringify(validate.errors)}`,
      ).to.equal(true);
      return reply;
    };
    const body = {
      customer: { email: "ada@example.com" },
      items: [{ sku: "SKU-1", quantity: 1 }],
      payment: { token: "tok_visa" },
    };
    const created = await check("POST", "/orders", "/orders", 201, { body });
    expect(created.headers.get("location")).to.equal(`/orders/${(created.json as Order).orderId}`);
    await check("POST", "/orders", "/orders", 400, {
      body: { ...body, items: [{ sku: "SKU-1", quantity: 0 }] },
    });
    await check("POST", "/orders", "/orders", 422, {
      body: { ...body, items: [{ sku: "NOPE", quantity: 1 }] },
    });
    await check("POST", "/orders", "/orders", 403, { body, apiKey: null });
    await check("GET", "/orders/{orderId}", `/orders/${(created.json as Order).orderId}`, 200);
    await check("GET", "/orders/{orderId}", `/orders/${randomUUID()}`, 404);
    await check("GET", "/orders", "/orders?limit=2", 200);
    await check("GET", "/orders", "/orders?limit=0", 400);
    await waitForTerminal(system, (created.json as Order).orderId, 20_000);
  });
  it("npm run redrive-dlq -- --endpoint <offline SQS> finds the queues and copies (CLI wiring)", async () => {
    const out = await new Promise<string>((resolve, reject) =>
      execFile(
        process.execPath,
        [
          "-r",
          "ts-node/register/transpile-only",
          "scripts/redrive-dlq.ts",
          "--endpoint",
          system.sqs.endpoint,
        ],
        { cwd: path.join(__dirname, "..", ".."), timeout: 30_000 },
        (err, stdout, stderr) => (err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(stdout)),
      ),
    );
    const lines = out.trim().split("\n");
    expect(lines[0]).to.match(/^copied 0 message\(s\) from .+ to .+/);
    expect(JSON.parse(lines[lines.length - 1])).to.deep.equal({ mode: "copy", moved: 0 });
  });
});
