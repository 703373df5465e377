/**
 * The capacity model (bench/capacity.ts) and the DynamoDB accounting it reads (bench/dynamoUse.ts),
 * with fixed per-order counts instead of an offline run: the figures follow from the registered
 * resources and the quotas file, so a design limit that comes back is named as the binding one.
 */
import { expect } from "chai";
import { benchCapacity, readQuotas, TARGET_ORDERS_PER_SECOND } from "../../bench/capacity";
import { benchCost } from "../../bench/cost";
import { dynamoAccount, freshDynamoUse, updatedAttributes, type Item } from "../../bench/dynamoUse";
import type { PathCounts } from "../../bench/pipeline";
import type { LocalTable } from "../../local/topology";
import { captureProgram, type RegisteredResource } from "../support/program";

const ESM = "aws:lambda/eventSourceMapping:EventSourceMapping";

/**
 * One order's counts: fixed inputs taken from the 2026-11-25 offline run (Node 20), not the latest
 * results, so the expected figures below do not move with a re-run.
 */
function counts(orders: string, path: "success" | "failure", sharded = true): PathCounts {
  const success = path === "success";
  return {
    dynamoWrites: 8,
    dynamoReads: 3,
    requests: {
      "AWSStepFunctions.StartExecution": 1,
      "AWSStepFunctions.SendTaskHeartbeat": 1,
      [success ? "AWSStepFunctions.SendTaskSuccess" : "AWSStepFunctions.SendTaskFailure"]: 1,
      "AmazonSQS.SendMessage": 1,
      "AmazonSQS.DeleteMessageBatch": 1,
    },
    invocations: success
      ? { createOrder: 1, updateInventory: 2, processPayment: 1, sendNotification: 1 }
      : { createOrder: 1, updateInventory: 2, processPayment: 1, compensateOrder: 1 },
    logBytes: 1900,
    durationsMs: success
      ? { createOrder: 35, updateInventory: 4, processPayment: 65, sendNotification: 27 }
      : { createOrder: 14, updateInventory: 4, processPayment: 41, compensateOrder: 39 },
    dynamo: {
      tables: { [orders]: { writes: 5, writeUnits: 5, reads: 1, putBytes: [437] } },
      indexes: {
        [`${orders}/byCreatedAt`]: { writes: 5, writeUnits: 5, unitsByFamily: { ALL: 5 }, sharded },
        [`${orders}/byStatus`]: {
          writes: 8,
          writeUnits: 8,
          unitsByFamily: { NEW: 2, PROCESSING: 2, PAID: 2, COMPLETED: 2 },
          sharded,
        },
      },
    },
  };
}

describe("capacity model (bench part 5)", function () {
  this.timeout(60_000);
  let all: RegisteredResource[];
  let orders: string;
  before(async () => {
    all = await captureProgram();
    const table = all.find((r) => r.type === "aws:dynamodb/table:Table" && /-orders/.test(r.name))!;
    orders = String(table.inputs.name ?? table.state.name ?? table.name);
  });

  const model = (resources: RegisteredResource[], sharded = true) => {
    const paths = {
      success: counts(orders, "success", sharded),
      failure: counts(orders, "failure", sharded),
    };
    const memoryMb = Object.fromEntries(
      ["createOrder", "updateInventory", "processPayment", "sendNotification", "compensateOrder"].map((h) => [
        h,
        256,
      ]),
    );
    const cost = benchCost(resources, { ...paths, memoryMb }, { emailSubscribers: 0 });
    return benchCapacity(resources, { ...paths, memoryMb }, cost);
  };

  it("as registered: over the target at requestable quotas, bound by a quota, and the design never binds first", () => {
    const c = model(all);
    expect(c.ordersPerSecond).to.be.at.least(TARGET_ORDERS_PER_SECOND);
    expect(c.bindingIsDesignLimit).to.equal(false);
    expect(c.bindingDefaultQuotasIsDesignLimit).to.equal(false);
    expect(c.designCeilingOrdersPerSecond).to.be.greaterThan(c.ordersPerSecond);
    // StartExecution: one per order, 300/s by default (the quotas file).
    expect(c.ordersPerSecondDefaultQuotas).to.equal(readQuotas("us-east-1").quotas.sfnStartExecution.default);
    expect(c.mustRequest.map((m) => m.quota)).to.include("sfnStartExecution");
    const names = c.constraints.map((x) => x.id);
    expect(names).to.include.members(["paymentConsumer", "lambdaConcurrency", "sfnStateTransitions"]);
  });

  it("the old consumer (10 invocations, one record at a time) is named as the binding design limit", () => {
    const old = all.map((r) => {
      if (r.type === ESM) return { ...r, inputs: { ...r.inputs, scalingConfig: { maximumConcurrency: 10 } } };
      if (r.type !== "aws:lambda/function:Function" || !String(r.name).includes("process-payment")) return r;
      const env = (r.inputs.environment as { variables: Record<string, string> }).variables;
      return {
        ...r,
        inputs: { ...r.inputs, environment: { variables: { ...env, PAYMENT_RECORD_CONCURRENCY: "1" } } },
      };
    });
    const c = model(old);
    const consumer = c.constraints.find((x) => x.id === "paymentConsumer")!;
    // 10 invocations x 10 records one after another at 65 ms each (the fixed processPayment
    // duration in counts(), from the 2026-11-25 run): 10 / 0.065 = 154 orders/s.
    expect(consumer.ordersPerSecondDefault).to.equal(154);
    expect(c.binding).to.equal(consumer.name);
    expect(c.bindingIsDesignLimit).to.equal(true);
    expect(c.bindingDefaultQuotasIsDesignLimit).to.equal(true);
  });

  it("the listing indexes: 16 shards carry 3,200 orders/s; one hash-key value (the old keys) binds at 200", () => {
    const partition = (c: ReturnType<typeof model>) =>
      c.constraints.find((x) => x.id.endsWith("byCreatedAt-partition"))!;
    const sharded = model(all);
    // 5 WCU per order (put + four status writes), over 16 shards of 1,000 WCU each.
    expect(partition(sharded).ordersPerSecondRequestable).to.equal(3200);
    expect(partition(sharded).kind).to.equal("design");
    const single = model(all, false);
    expect(partition(single).ordersPerSecondRequestable).to.equal(200);
    expect(single.binding).to.equal(partition(single).name);
    expect(single.bindingIsDesignLimit).to.equal(true);
  });
});

describe("DynamoDB accounting (bench/dynamoUse.ts)", () => {
  const table: LocalTable = {
    name: "orders",
    hashKey: "orderId",
    attributes: [],
    globalSecondaryIndexes: [
      {
        name: "all",
        hashKey: "listShard",
        rangeKey: "listSort",
        projectionType: "INCLUDE",
        nonKeyAttributes: ["status"],
      },
      {
        name: "st",
        hashKey: "statusShard",
        rangeKey: "listSort",
        projectionType: "INCLUDE",
        nonKeyAttributes: ["status"],
      },
    ],
  };
  const item: Item = {
    orderId: { S: "o1" },
    listShard: { S: "ALL#3" },
    statusShard: { S: "NEW#3" },
    listSort: { S: "t#o1" },
    status: { S: "NEW" },
    customer: { M: { email: { S: "a@example.com" } } },
  };

  it("reads the attributes an UpdateExpression sets, through attribute names", () => {
    expect(
      updatedAttributes("SET #status = :to, updatedAt = :now, failure.refunded = :t", {
        "#status": "status",
      }),
    ).to.deep.equal(["status", "updatedAt", "failure"]);
  });

  it("a put writes every index; a key move writes two entries; a non-projected change none", () => {
    const use = freshDynamoUse();
    const items = new Map<string, Item>();
    dynamoAccount(use, [table], items, "PutItem", { TableName: "orders", Item: item });
    expect(use.indexes["orders/all"]).to.deep.include({
      writes: 1,
      unitsByFamily: { ALL: 1 },
      sharded: true,
    });
    expect(use.indexes["orders/st"]).to.deep.include({ writes: 1, unitsByFamily: { NEW: 1 } });

    dynamoAccount(use, [table], items, "UpdateItem", {
      TableName: "orders",
      Key: { orderId: { S: "o1" } },
      UpdateExpression: "SET #s = :to, statusShard = :ss",
      ExpressionAttributeNames: { "#s": "status" },
      ExpressionAttributeValues: { ":to": { S: "PAID" }, ":ss": { S: "PAID#3" } },
    });
    // The status index entry moves (delete NEW#3, put PAID#3); the all-orders one is rewritten.
    expect(use.indexes["orders/st"]).to.deep.include({ writes: 3, unitsByFamily: { NEW: 2, PAID: 1 } });
    expect(use.indexes["orders/all"].writes).to.equal(2);

    dynamoAccount(use, [table], items, "UpdateItem", {
      TableName: "orders",
      Key: { orderId: { S: "o1" } },
      UpdateExpression: "SET notificationId = :m",
      ExpressionAttributeValues: { ":m": { S: "m-1" } },
    });
    expect(use.indexes["orders/all"].writes).to.equal(2);
    expect(use.tables.orders).to.deep.include({ writes: 3, writeUnits: 3 });
  });
});
