import { expect } from "chai";
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import * as sinon from "sinon";
import type { AddressInfo } from "net";
import {
  CreateTableCommand,
  DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  ScanCommand,
} from "@aws-sdk/client-dynamodb";
import { marshall, unmarshall } from "@aws-sdk/util-dynamodb";
import { LambdaClient } from "@aws-sdk/client-lambda";
import { SFNClient } from "@aws-sdk/client-sfn";
import { SNSClient } from "@aws-sdk/client-sns";
import { catalogueItem } from "../../components/orderData";
import { RUNTIME_FILES } from "../../components/orderFunction";
import { ORDER_LIST_SHARDS } from "../../functions/shared/orderStore";
import type { OrderStatus } from "../../functions/shared/types";
import { NON_TERMINAL, type SweepReport } from "../../functions/sweepOrders";
import { byType, captureProgram, functionFor, HANDLER_IDS, RegisteredResource, T } from "../support/program";
import {
  lambdaRuntimeRoot,
  runtimeNode,
  unpackFunction,
  UnpackedFunction,
} from "../support/serializedFunctions";

// eslint-disable-next-line @typescript-eslint/no-require-imports
const dynalite = require("dynalite") as (options: Record<string, number>) => import("http").Server;

type Handler = (event: unknown) => Promise<unknown>;

const HANDLERS = HANDLER_IDS;

/**
 * The code `pulumi up` would upload, run for real: each function's `__index.js` from the archive
 * the program registered is written to disk with only the archive's packages beside it, loaded,
 * and driven through an order's life against a real local DynamoDB (dynalite); Step Functions,
 * SNS and Lambda calls are sinon stubs, the Lambda stub running the serialized update_inventory.
 */
describe("serialized Lambda code (the deployed artifact)", function () {
  this.timeout(120_000);
  const sandbox = sinon.createSandbox();
  const savedEnv = { ...process.env };
  let all: RegisteredResource[];
  let server: import("http").Server;
  let dynamo: DynamoDBClient;
  const unpacked: Partial<Record<(typeof HANDLERS)[number], UnpackedFunction>> = {};
  const handlers: Partial<Record<(typeof HANDLERS)[number], Handler>> = {};
  const sfnCalls: { name: string; input: Record<string, unknown> }[] = [];
  const published: Record<string, unknown>[] = [];
  let tables: Record<"orders" | "inventory" | "payments", string>;

  before(async () => {
    all = await captureProgram();
    server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const port = (server.address() as AddressInfo).port;
    Object.assign(process.env, {
      AWS_REGION: "us-east-1",
      AWS_ACCESS_KEY_ID: "test",
      AWS_SECRET_ACCESS_KEY: "test",
      AWS_ENDPOINT_URL_DYNAMODB: `http://127.0.0.1:${port}`,
    });
    dynamo = new DynamoDBClient({});
    for (const t of byType(all, T.table)) {
      const inputs = t.inputs as {
        hashKey: string;
        rangeKey?: string;
        attributes: { name: string; type: "S" }[];
        globalSecondaryIndexes?: { name: string; hashKey: string; rangeKey: string }[];
      };
      await dynamo.send(
        new CreateTableCommand({
          TableName: String(t.state.name),
          BillingMode: "PAY_PER_REQUEST",
          AttributeDefinitions: inputs.attributes.map((a) => ({
            AttributeName: a.name,
            AttributeType: a.type,
          })),
          KeySchema: [
            { AttributeName: inputs.hashKey, KeyType: "HASH" },
            ...(inputs.rangeKey ? [{ AttributeName: inputs.rangeKey, KeyType: "RANGE" as const }] : []),
          ],
          GlobalSecondaryIndexes: inputs.globalSecondaryIndexes?.map((g) => ({
            IndexName: g.name,
            KeySchema: [
              { AttributeName: g.hashKey, KeyType: "HASH" },
              { AttributeName: g.rangeKey, KeyType: "RANGE" },
            ],
            Projection: { ProjectionType: "ALL" },
          })),
        }),
      );
    }
    const tableName = (suffix: string) =>
      String(byType(all, T.table).find((t) => t.name.endsWith(suffix))?.state.name);
    tables = {
      orders: tableName("-orders"),
      inventory: tableName("-inventory"),
      payments: tableName("-payments"),
    };
    await dynamo.send(
      new PutItemCommand({
        TableName: tables.inventory,
        Item: catalogueItem({ sku: "SKU-1", price: 2450, stock: 10 }),
      }),
    );

    const root = lambdaRuntimeRoot();
    const baseEnv = { ...process.env };
    for (const id of HANDLERS) {
      const fn = functionFor(all, id);
      unpacked[id] = await unpackFunction(fn, root);
      const env = (fn.inputs.environment as { variables: Record<string, string> }).variables;
      // Each handler reads its env once, in its factory: give it exactly what Lambda would.
      process.env = { ...baseEnv, ...env };
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const mod = require(path.join(unpacked[id]!.dir, "__index.js")) as { handler: Handler };
      const fresh = mod.handler;
      handlers[id] = fresh;
    }
    process.env = baseEnv;

    (sandbox.stub(SFNClient.prototype, "send") as sinon.SinonStub).callsFake(
      async (command: { constructor: { name: string }; input: object }) => {
        sfnCalls.push({ name: command.constructor.name, input: command.input as Record<string, unknown> });
        return {
          executionArn: "arn:aws:states:us-east-1:123456789012:execution:sm:x",
          startDate: new Date(),
        };
      },
    );
    (sandbox.stub(SNSClient.prototype, "send") as sinon.SinonStub).callsFake(
      async (command: { input: object }) => {
        published.push(command.input as Record<string, unknown>);
        return { MessageId: `m-${published.length}` };
      },
    );
    (sandbox.stub(LambdaClient.prototype, "send") as sinon.SinonStub).callsFake(
      async (command: { input: { Payload?: Uint8Array } }) => {
        const request = JSON.parse(Buffer.from(command.input.Payload ?? new Uint8Array()).toString("utf8"));
        const result = await handlers.updateInventory!(request);
        return { StatusCode: 200, Payload: Buffer.from(JSON.stringify(result)) };
      },
    );
  });

  // Handlers log JSON lines to stdout; keep the test output readable, and keep the lines to assert on.
  const logLines: string[] = [];
  let restoreStdout: () => void = () => undefined;
  beforeEach(() => {
    const write = process.stdout.write.bind(process.stdout);
    process.stdout.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
      const text = String(chunk);
      if (text.startsWith('{"level"')) {
        logLines.push(text);
        return true;
      }
      return (write as (c: string | Uint8Array, ...r: unknown[]) => boolean)(chunk, ...rest);
    }) as typeof process.stdout.write;
    restoreStdout = () => (process.stdout.write = write);
  });
  afterEach(() => restoreStdout());

  after(() => {
    sandbox.restore();
    process.env = savedEnv;
    server?.close();
  });

  it("every archive holds __index.js and only the runtime files it loads, never the AWS SDK clients or @pulumi", () => {
    for (const id of HANDLERS) {
      const u = unpacked[id]!;
      expect(u.indexJs, id).to.match(/exports\.handler = /);
      expect(u.packages.sort(), id).to.deep.equal([...RUNTIME_FILES].sort());
      // valibot is required, not copied by value into __index.js (schemas are built in the factory).
      expect(u.indexJs, id).to.include('require("valibot")');
      expect(u.indexJs, id).not.to.match(/@pulumi\//);
    }
  });

  it(`every archive loads as an async handler on the Lambda runtime's Node (${runtimeNode() ? "runtime binary" : "this Node: no runtime binary on this platform"})`, () => {
    const runtime = String(functionFor(all, "createOrder").inputs.runtime);
    const node = runtimeNode() ?? process.execPath;
    // One child process: each archive required with exactly its function's environment, the way a
    // cold start does it; createOrder also answers a bad body (no AWS call before validation).
    const script = `
      const [dirs, envs] = JSON.parse(process.argv[1]);
      const base = { ...process.env };
      const out = { version: process.version, handlers: {} };
      (async () => {
        for (const [id, dir] of Object.entries(dirs)) {
          process.env = { ...base, ...envs[id] };
          const { handler } = require(dir + "/__index.js");
          const entry = { type: typeof handler, arity: handler.length };
          if (id === "createOrder") entry.badBody = (await handler({ body: "{", headers: {}, httpMethod: "POST" })).statusCode;
          out.handlers[id] = entry;
        }
        process.stdout.write("\\nRESULT " + JSON.stringify(out) + "\\n");
      })().catch((e) => { console.error(e); process.exit(1); });`;
    const dirs = Object.fromEntries(HANDLERS.map((id) => [id, unpacked[id]!.dir]));
    const envs = Object.fromEntries(
      HANDLERS.map((id) => [
        id,
        (functionFor(all, id).inputs.environment as { variables: Record<string, string> }).variables,
      ]),
    );
    // Handlers log JSON lines to stdout too: the result is the line marked RESULT.
    const stdout = execFileSync(node, ["-e", script, JSON.stringify([dirs, envs])], {
      encoding: "utf8",
      env: {
        PATH: process.env.PATH,
        AWS_REGION: "us-east-1",
        AWS_ACCESS_KEY_ID: "test",
        AWS_SECRET_ACCESS_KEY: "test",
      },
    });
    const out = JSON.parse(stdout.split("\nRESULT ")[1]) as {
      version: string;
      handlers: Record<string, { type: string; arity: number; badBody?: number }>;
    };
    if (runtimeNode())
      expect(out.version, "the child's Node").to.match(new RegExp(`^v${/\d+/.exec(runtime)?.[0]}\\.`));
    for (const id of HANDLERS) {
      expect(out.handlers[id]?.type, id).to.equal("function");
      // Node 24's runtime refuses callback-style handlers (event, context, callback).
      expect(out.handlers[id]?.arity, id).to.be.at.most(2);
    }
    expect(out.handlers.createOrder.badBody).to.equal(400);
  });

  const get = async (orderId: string) => {
    const out = await dynamo.send(
      new GetItemCommand({ TableName: tables.orders, Key: marshall({ orderId }), ConsistentRead: true }),
    );
    return out.Item ? unmarshall(out.Item) : undefined;
  };
  const stockOf = async (sku: string) => {
    const out = await dynamo.send(
      new GetItemCommand({ TableName: tables.inventory, Key: marshall({ sku }), ConsistentRead: true }),
    );
    return Number(unmarshall(out.Item!).stock);
  };
  const apiEvent = (overrides: Record<string, unknown>) => ({
    resource: "/orders",
    path: "/orders",
    httpMethod: "GET",
    headers: { Origin: "http://localhost:3000" },
    multiValueHeaders: {},
    queryStringParameters: null,
    multiValueQueryStringParameters: null,
    pathParameters: null,
    stageVariables: null,
    body: null,
    isBase64Encoded: false,
    requestContext: { identity: { apiKeyId: "key-1" } },
    ...overrides,
  });
  const placeOrder = async (token: string) => {
    const response = (await handlers.createOrder!(
      apiEvent({
        httpMethod: "POST",
        body: JSON.stringify({
          customer: { email: "ada@example.com" },
          items: [{ sku: "SKU-1", quantity: 2 }],
          payment: { token },
        }),
      }),
    )) as { statusCode: number; headers: Record<string, string>; body: string };
    expect(response.statusCode, response.body).to.equal(201);
    return JSON.parse(response.body) as { orderId: string; total: { amount: number } };
  };
  const paymentEvent = (order: { orderId: string; total: unknown }, taskToken: string) => ({
    Records: [
      {
        messageId: `msg-${taskToken}`,
        receiptHandle: "r",
        body: JSON.stringify({
          order: { orderId: order.orderId, items: [{ sku: "SKU-1", quantity: 2 }], total: order.total },
          taskToken,
        }),
        attributes: { ApproximateReceiveCount: "1" },
        messageAttributes: {},
        md5OfBody: "",
        eventSource: "aws:sqs",
        eventSourceARN: "arn:aws:sqs:us-east-1:123456789012:payments",
        awsRegion: "us-east-1",
      },
    ],
  });

  it("runs an order to COMPLETED: create, get, list, pay (reserving stock), notify", async () => {
    const order = await placeOrder("tok_visa");
    expect(order.total.amount).to.equal(4900);
    expect(sfnCalls.find((c) => c.name === "StartExecutionCommand")?.input.name).to.equal(order.orderId);

    const got = (await handlers.getOrder!(
      apiEvent({
        resource: "/orders/{orderId}",
        path: `/orders/${order.orderId}`,
        pathParameters: { orderId: order.orderId },
      }),
    )) as { statusCode: number; body: string; headers: Record<string, string> };
    expect(got.statusCode).to.equal(200);
    expect(JSON.parse(got.body)).to.deep.include({ orderId: order.orderId, status: "NEW" });
    expect(got.headers["Access-Control-Allow-Origin"]).to.equal("http://localhost:3000");

    const listed = (await handlers.listOrders!(apiEvent({ queryStringParameters: { limit: "5" } }))) as {
      body: string;
    };
    expect(JSON.parse(listed.body).items.map((o: { orderId: string }) => o.orderId)).to.include(
      order.orderId,
    );

    const batch = (await handlers.processPayment!(paymentEvent(order, "token-ok"))) as {
      batchItemFailures: unknown[];
    };
    expect(batch.batchItemFailures).to.deep.equal([]);
    const success = sfnCalls.find((c) => c.name === "SendTaskSuccessCommand");
    expect(success?.input.taskToken).to.equal("token-ok");
    const payment = JSON.parse(String(success?.input.output));
    expect(payment).to.deep.include({ orderId: order.orderId, amount: 4900 });
    expect((await get(order.orderId))?.status).to.equal("PAID");
    expect(await stockOf("SKU-1")).to.equal(8);

    await handlers.sendNotification!({
      order: { orderId: order.orderId, items: [{ sku: "SKU-1", quantity: 2 }], total: order.total },
      payment,
    });
    expect((await get(order.orderId))?.status).to.equal("COMPLETED");
    expect(published).to.have.length(1);
    expect(published[0].TopicArn).to.equal(String(byType(all, T.topic)[0].state.arn));
    // Structured logs: every line of this order's life is JSON and names the order.
    const lines = logLines
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .filter((l) => l.orderId === order.orderId);
    expect(lines.map((l) => l.fn)).to.include.members([
      "create_order",
      "process_payment",
      "update_inventory",
      "send_notification",
    ]);
  });

  it("declines, then compensates: stock restored, nothing refunded because nothing was charged", async () => {
    const before = await stockOf("SKU-1");
    const order = await placeOrder("tok_decline");
    const batch = (await handlers.processPayment!(paymentEvent(order, "token-decline"))) as {
      batchItemFailures: unknown[];
    };
    expect(batch.batchItemFailures).to.deep.equal([]);
    const failure = sfnCalls.find(
      (c) => c.name === "SendTaskFailureCommand" && c.input.taskToken === "token-decline",
    );
    expect(failure?.input.error).to.equal("PaymentDeclined");
    expect(await stockOf("SKU-1")).to.equal(before - 2); // reserved until compensation

    const result = (await handlers.compensateOrder!({
      order: { orderId: order.orderId, items: [{ sku: "SKU-1", quantity: 2 }], total: order.total },
      error: { Error: "PaymentDeclined", Cause: String(failure?.input.cause) },
    })) as { status: string; failure: Record<string, unknown> };
    expect(result).to.deep.include({ status: "FAILED" });
    expect(result.failure).to.deep.equal({ reason: "PaymentDeclined", refunded: false, restocked: true });
    expect(await stockOf("SKU-1")).to.equal(before);
    expect((await get(order.orderId))?.status).to.equal("FAILED");
  });

  it("answers a bad request with a 400 naming the field, writing nothing", async () => {
    const response = (await handlers.createOrder!(
      apiEvent({
        httpMethod: "POST",
        body: JSON.stringify({
          customer: { email: "x@example.com" },
          items: [{ sku: "SKU-1", quantity: 0 }],
          payment: { token: "t" },
        }),
      }),
    )) as { statusCode: number; body: string };
    expect(response.statusCode).to.equal(400);
    expect(JSON.parse(response.body).issues.map((i: { path: string }) => i.path)).to.include(
      "items.0.quantity",
    );
  });

  it("sweeps through the byStatus index and reports orders in flight as an EMF metric", async () => {
    const env = (functionFor(all, "sweepOrders").inputs.environment as { variables: Record<string, string> })
      .variables;
    const stored = await dynamo.send(new ScanCommand({ TableName: tables.orders, ConsistentRead: true }));
    const inFlight = (stored.Items ?? []).filter((i) =>
      NON_TERMINAL.includes(unmarshall(i).status as OrderStatus),
    ).length;
    const startsBefore = sfnCalls.length;
    const send = sinon.spy(DynamoDBClient.prototype, "send");
    let report: SweepReport;
    try {
      report = (await handlers.sweepOrders!({ source: "aws.events" })) as SweepReport;
    } finally {
      send.restore();
    }
    expect(report).to.deep.include({
      entries: [],
      inFlight,
      olderThanSeconds: Number(env.STUCK_AFTER_SECONDS),
    });
    const metric = logLines
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .find((l) => l.msg === "orders in flight");
    expect(metric, "an EMF line for OrdersInFlight").to.deep.include({ OrdersInFlight: inFlight });
    expect(metric).to.have.property("_aws");
    // Per shard of the byStatus index: a count and a createdBefore page per non-terminal status,
    // and one page of recent FAILED orders; one Scan of the inventory's reservation markers; the
    // rest are ledger reads by key.
    const calls = send.getCalls().map((c) => c.args[0] as unknown as { input: Record<string, unknown> });
    const named = (name: string) => calls.filter((c) => c.constructor.name === name).map((c) => c.input);
    const queries = named("QueryCommand");
    expect(queries).to.have.length((2 * NON_TERMINAL.length + 1) * ORDER_LIST_SHARDS);
    for (const q of queries) expect(q).to.include({ TableName: tables.orders, IndexName: "byStatus" });
    expect(named("ScanCommand")).to.deep.equal([
      {
        TableName: tables.inventory,
        ProjectionExpression: "sku, reservations",
        ExclusiveStartKey: undefined,
      },
    ]);
    for (const g of named("GetItemCommand")) expect(g).to.include({ TableName: tables.payments });
    expect(
      named("QueryCommand").length + named("ScanCommand").length + named("GetItemCommand").length,
    ).to.equal(calls.length);
    expect(sfnCalls.length, "no execution started").to.equal(startsBefore);
  });

  it("keeps each __index.js small (figures in `npm run bench`)", () => {
    for (const id of HANDLERS) {
      const size = fs.statSync(path.join(unpacked[id]!.dir, "__index.js")).size;
      expect(size, id).to.be.below(200_000);
    }
  });
});
