/**
 * Every `xxxFromEnv` wired as deployed: SDK clients built from the environment, DynamoDB served by
 * dynalite, Lambda Invoke served by update_inventory / compensate_order themselves, Step Functions
 * and SNS answered by stubs. Records the exact SDK operations each function performs and checks
 * them against the actions of that function's role in the program (run under Pulumi mocks), so
 * an operation the deployed role does not allow fails here.
 */
import { expect } from "chai";
import * as sinon from "sinon";
import { DynamoDBClient, PutItemCommand } from "@aws-sdk/client-dynamodb";
import { LambdaClient } from "@aws-sdk/client-lambda";
import { SFNClient } from "@aws-sdk/client-sfn";
import { SNSClient } from "@aws-sdk/client-sns";
import { marshall } from "@aws-sdk/util-dynamodb";
import { compensateOrderFromEnv } from "../../functions/compensateOrder";
import { createOrderFromEnv } from "../../functions/createOrder";
import { getOrderFromEnv } from "../../functions/getOrder";
import { listOrdersFromEnv } from "../../functions/listOrders";
import { processPaymentFromEnv } from "../../functions/processPayment";
import { sendNotificationFromEnv } from "../../functions/sendNotification";
import { sweepOrdersFromEnv } from "../../functions/sweepOrders";
import { updateInventoryFromEnv } from "../../functions/updateInventory";
import { ENV, type Env } from "../../functions/shared/settings";
import type { CompensateInput, InventoryRequest, Order, OrderView } from "../../functions/shared/types";
import { captureProgram, functionFor, statementsFor, type HandlerModule } from "../support/program";
import { createTables } from "./dynamoTables";
import { apiEvent, parseBody, VALID_BODY } from "./http";
import { startDynalite, TEST_CREDENTIALS, type LocalDynamo } from "./support";
import { awsError, sqsEvent, sqsRecord } from "./world";

/** Each function (as the specs name it) and the functions/ module the program deploys it from. */
const HANDLER_OF: Record<string, HandlerModule> = {
  create_order: "createOrder",
  get_order: "getOrder",
  list_orders: "listOrders",
  process_payment: "processPayment",
  update_inventory: "updateInventory",
  send_notification: "sendNotification",
  compensate_order: "compensateOrder",
  sweep_orders: "sweepOrders",
};

/** The actions each function's role allows, read from the program's role policies. */
async function allowedActions(): Promise<Record<string, string[]>> {
  const all = await captureProgram();
  return Object.fromEntries(
    Object.entries(HANDLER_OF).map(([fn, handlerId]) => [
      fn,
      statementsFor(all, functionFor(all, handlerId))
        .filter((st) => st.Effect === "Allow")
        .flatMap((st) => (Array.isArray(st.Action) ? st.Action : [st.Action])),
    ]),
  );
}

/** The environment each function gets: only what it reads (requireEnv fails on anything missing). */
const TABLES = { orders: "orders", inventory: "inventory", payments: "payments" };
const STATE_MACHINE_ARN = "arn:aws:states:us-east-1:123456789012:stateMachine:orders";
const ENVS: Record<string, Env> = {
  create_order: {
    [ENV.ordersTable]: TABLES.orders,
    [ENV.inventoryTable]: TABLES.inventory,
    [ENV.stateMachineArn]: STATE_MACHINE_ARN,
    [ENV.allowedOrigins]: "*",
  },
  get_order: { [ENV.ordersTable]: TABLES.orders, [ENV.allowedOrigins]: "*" },
  list_orders: { [ENV.ordersTable]: TABLES.orders, [ENV.allowedOrigins]: "*" },
  process_payment: {
    [ENV.ordersTable]: TABLES.orders,
    [ENV.paymentsTable]: TABLES.payments,
    [ENV.inventoryFunction]: "update_inventory",
    [ENV.paymentDeclineAboveCents]: "100000",
    [ENV.paymentRecordConcurrency]: "10",
    [ENV.paymentRecordBudgetMs]: "10000",
  },
  update_inventory: { [ENV.inventoryTable]: TABLES.inventory },
  send_notification: {
    [ENV.ordersTable]: TABLES.orders,
    [ENV.topicArn]: "arn:aws:sns:us-east-1:123456789012:orders",
  },
  compensate_order: {
    [ENV.ordersTable]: TABLES.orders,
    [ENV.paymentsTable]: TABLES.payments,
    [ENV.inventoryFunction]: "update_inventory",
  },
  sweep_orders: {
    [ENV.ordersTable]: TABLES.orders,
    [ENV.paymentsTable]: TABLES.payments,
    [ENV.inventoryTable]: TABLES.inventory,
    [ENV.stateMachineArn]: STATE_MACHINE_ARN,
    [ENV.compensateFunction]: "compensate_order",
    [ENV.notifyFunction]: "send_notification",
    [ENV.inventoryFunction]: "update_inventory",
    [ENV.stuckAfterSeconds]: "1500",
  },
};

/** `client.send` of a client class, stubbed (overloads make sinon's types unusable here). */
function stubSend(cls: { prototype: object }): sinon.SinonStub {
  return sinon.stub(cls.prototype as { send: (...args: unknown[]) => unknown }, "send");
}

const SERVICE: [unknown, string][] = [
  [DynamoDBClient, "dynamodb"],
  [LambdaClient, "lambda"],
  [SFNClient, "states"],
  [SNSClient, "sns"],
];

/** `GetItemCommand` on a DynamoDBClient -> `dynamodb:GetItem` (Invoke -> lambda:InvokeFunction). */
function actionOf(client: unknown, command: { constructor: { name: string } }): string {
  const service = SERVICE.find(([cls]) => client instanceof (cls as new () => unknown))?.[1] ?? "unknown";
  const op = command.constructor.name.replace(/Command$/, "");
  return `${service}:${op === "Invoke" ? "InvokeFunction" : op}`;
}

describe("xxxFromEnv: wiring and the exact SDK operations per function", function () {
  this.timeout(10_000);
  let local: LocalDynamo;
  let backing: DynamoDBClient;
  let current = "";
  let ALLOWED: Record<string, string[]> = {};
  /** DescribeExecution answers by order id; no entry: ExecutionDoesNotExist. */
  const executions: Record<string, string> = {};
  const used: Record<string, Set<string>> = {};
  const sfnCalls: { action: string; input: Record<string, unknown> }[] = [];

  before(async function () {
    this.timeout(60_000);
    ALLOWED = await allowedActions();
    local = await startDynalite();
    backing = new DynamoDBClient({
      endpoint: local.endpoint,
      region: "us-east-1",
      credentials: TEST_CREDENTIALS,
    });
    await createTables(backing, TABLES);
    for (const [sku, price, stock] of [
      ["SKU-1", 1250, 5],
      ["SKU-2", 500, 0],
    ] as const) {
      await backing.send(
        new PutItemCommand({
          TableName: TABLES.inventory,
          Item: marshall({ sku, price, stock, reservations: {} }),
        }),
      );
    }
  });
  after(async () => {
    backing.destroy();
    await local.close();
  });

  let inventoryHandler: ReturnType<typeof updateInventoryFromEnv>;
  beforeEach(() => {
    const realDynamoSend = DynamoDBClient.prototype.send as unknown as (cmd: unknown) => Promise<unknown>;
    const record = (client: unknown, cmd: { constructor: { name: string } }, fn = current) =>
      (used[fn] ??= new Set()).add(actionOf(client, cmd));
    stubSend(DynamoDBClient).callsFake(function (this: unknown, cmd: never) {
      record(this, cmd);
      return realDynamoSend.call(backing, cmd) as never;
    });
    stubSend(SFNClient).callsFake(async function (this: unknown, cmd: never) {
      record(this, cmd);
      const c = cmd as { constructor: { name: string }; input: Record<string, unknown> };
      sfnCalls.push({ action: actionOf(this, c), input: c.input });
      if (c.constructor.name === "DescribeExecutionCommand") {
        const orderId = String(c.input.executionArn).split(":").pop() as string;
        const status = executions[orderId];
        if (!status) throw awsError("ExecutionDoesNotExist");
        return { status } as never;
      }
      return {} as never;
    });
    stubSend(SNSClient).callsFake(async function (this: unknown, cmd: never) {
      record(this, cmd);
      return { MessageId: "sns-1" } as never;
    });
    stubSend(LambdaClient).callsFake(async function (this: unknown, cmd: never) {
      record(this, cmd);
      const caller = current;
      const { FunctionName, Payload } = (cmd as { input: { FunctionName: string; Payload: Uint8Array } })
        .input;
      current = FunctionName;
      try {
        const payload: unknown = JSON.parse(Buffer.from(Payload).toString());
        const result =
          FunctionName === "compensate_order"
            ? await compensateOrderFromEnv(ENVS.compensate_order)(payload as CompensateInput)
            : await inventoryHandler(payload as InventoryRequest);
        return { StatusCode: 200, Payload: Buffer.from(JSON.stringify(result)) } as never;
      } finally {
        current = caller;
      }
    });
    inventoryHandler = updateInventoryFromEnv(ENVS.update_inventory);
    // Silence the functions' JSON logs for this spec.
    sinon.stub(process.stdout, "write").returns(true);
    sinon.stub(process.stderr, "write").returns(true);
  });
  afterEach(() => sinon.restore());

  const as = async <T>(fn: string, run: () => Promise<T>): Promise<T> => {
    current = fn;
    return run();
  };

  it("every FromEnv refuses to start without its settings", () => {
    for (const make of [
      createOrderFromEnv,
      getOrderFromEnv,
      listOrdersFromEnv,
      processPaymentFromEnv,
      updateInventoryFromEnv,
      sendNotificationFromEnv,
      compensateOrderFromEnv,
      sweepOrdersFromEnv,
    ]) {
      expect(() => make({}), make.name).to.throw(/Missing environment variable/);
    }
  });

  it("runs an order to COMPLETED and one to FAILED through every function, using only the allowed operations", async () => {
    const create = createOrderFromEnv(ENVS.create_order);
    const created = await as("create_order", () =>
      create(apiEvent({ body: JSON.stringify({ ...VALID_BODY, items: [{ sku: "SKU-1", quantity: 2 }] }) })),
    );
    expect(created.statusCode).to.equal(201);
    const view = parseBody(created) as unknown as OrderView;
    const start = sfnCalls.find((c) => c.action === "states:StartExecution")!;
    expect(start.input.name).to.equal(view.orderId);

    const get = getOrderFromEnv(ENVS.get_order);
    const got = await as("get_order", () => get(apiEvent({ pathParameters: { orderId: view.orderId } })));
    expect(parseBody(got)).to.deep.equal(view);

    const order = { ...view, status: "NEW" } as unknown as Order;
    const pay = processPaymentFromEnv(ENVS.process_payment);
    expect(await as("process_payment", () => pay(sqsEvent(sqsRecord(order))))).to.deep.equal({
      batchItemFailures: [],
    });
    expect(sfnCalls.map((c) => c.action)).to.include.members([
      "states:SendTaskHeartbeat",
      "states:SendTaskSuccess",
    ]);

    const notify = sendNotificationFromEnv(ENVS.send_notification);
    const payment = JSON.parse(
      sfnCalls.find((c) => c.action === "states:SendTaskSuccess")!.input.output as string,
    );
    const notified = await as("send_notification", () =>
      notify({
        order: { orderId: view.orderId, items: [{ sku: "SKU-1", quantity: 2 }], total: view.total },
        payment,
      }),
    );
    expect(notified).to.deep.equal({ orderId: view.orderId, messageId: "sns-1" });

    // A second order is out of stock (SKU-2 has none) and is compensated.
    const second = await as("create_order", () =>
      create(apiEvent({ body: JSON.stringify({ ...VALID_BODY, items: [{ sku: "SKU-2", quantity: 1 }] }) })),
    );
    const secondView = parseBody(second) as unknown as OrderView;
    await as("process_payment", () =>
      pay(sqsEvent(sqsRecord({ ...secondView, status: "NEW" } as unknown as Order, "m2"))),
    );
    const failure = sfnCalls.find((c) => c.action === "states:SendTaskFailure")!;
    expect(failure.input.error).to.equal("OutOfStock");
    const compensate = compensateOrderFromEnv(ENVS.compensate_order);
    const comp = await as("compensate_order", () =>
      compensate({
        order: {
          orderId: secondView.orderId,
          items: [{ sku: "SKU-2", quantity: 1 }],
          total: secondView.total,
        },
        error: { Error: "OutOfStock" },
      }),
    );
    expect(comp.failure).to.deep.equal({ reason: "OutOfStock", refunded: false, restocked: false });

    const list = listOrdersFromEnv(ENVS.list_orders);
    const all = parseBody(
      await as("list_orders", () => list(apiEvent({ queryStringParameters: { limit: "1" } }))),
    );
    expect((all.items as OrderView[]).map((o) => o.orderId)).to.have.length(1);
    const next = parseBody(
      await as("list_orders", () =>
        list(apiEvent({ queryStringParameters: { limit: "5", nextToken: all.nextToken as string } })),
      ),
    );
    expect(
      [...(all.items as OrderView[]), ...(next.items as OrderView[])].map((o) => o.status).sort(),
    ).to.deep.equal(["COMPLETED", "FAILED"]);
    const failed = parseBody(
      await as("list_orders", () => list(apiEvent({ queryStringParameters: { status: "FAILED" } }))),
    );
    expect((failed.items as OrderView[]).map((o) => o.orderId)).to.deep.equal([secondView.orderId]);

    // Two orders stuck in NEW: one never started (started now), one whose execution timed out
    // (compensated through compensate_order, which restocks through update_inventory).
    const stuck = [];
    for (const _ of [1, 2]) {
      const res = await as("create_order", () =>
        create(apiEvent({ body: JSON.stringify({ ...VALID_BODY, items: [{ sku: "SKU-1", quantity: 1 }] }) })),
      );
      stuck.push((parseBody(res) as unknown as OrderView).orderId);
    }
    executions[stuck[1]] = "TIMED_OUT";
    await new Promise((r) => setTimeout(r, 5));
    const sweep = sweepOrdersFromEnv(ENVS.sweep_orders);
    const report = await as("sweep_orders", () => sweep({ olderThanSeconds: 0 }));
    expect(report.entries.map((e) => [e.orderId, e.action])).to.have.deep.members([
      [stuck[0], "started"],
      [stuck[1], "compensated"],
    ]);
    expect(sfnCalls.filter((c) => c.action === "states:StartExecution").map((c) => c.input.name)).to.include(
      stuck[0],
    );

    // What this scenario exercises (the rest of ALLOWED is used on other paths: replays,
    // refunds, notifiedAt checks...).
    const exercised = Object.fromEntries(Object.entries(used).map(([k, v]) => [k, [...v].sort()]));
    expect(exercised).to.deep.equal({
      create_order: ["dynamodb:BatchGetItem", "dynamodb:PutItem", "states:StartExecution"],
      get_order: ["dynamodb:GetItem"],
      list_orders: ["dynamodb:Query"],
      process_payment: [
        "dynamodb:GetItem",
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "lambda:InvokeFunction",
        "states:SendTaskFailure",
        "states:SendTaskHeartbeat",
        "states:SendTaskSuccess",
      ],
      update_inventory: ["dynamodb:GetItem", "dynamodb:UpdateItem"],
      send_notification: ["dynamodb:UpdateItem", "sns:Publish"],
      compensate_order: ["dynamodb:GetItem", "dynamodb:UpdateItem", "lambda:InvokeFunction"],
      sweep_orders: [
        "dynamodb:GetItem",
        "dynamodb:Query",
        "dynamodb:Scan",
        "lambda:InvokeFunction",
        "states:DescribeExecution",
        "states:StartExecution",
      ],
    });
    // Every call a function made is an action its deployed role allows.
    for (const [fn, actions] of Object.entries(used)) {
      expect(ALLOWED[fn], `${fn}'s role`).to.be.an("array").that.is.not.empty;
      expect(
        [...actions].filter((a) => !ALLOWED[fn].includes(a)),
        `${fn} used actions its role does not allow`,
      ).to.deep.equal([]);
    }
    expect(Object.keys(used).sort()).to.deep.equal(Object.keys(ALLOWED).sort());
  });
});
