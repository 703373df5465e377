/**
 * The emulator layer on its own: a small registered topology (support/fixture.ts) and fake
 * handlers that call the local endpoints with the real AWS SDK clients. A failure here is in
 * local/, not in a handler.
 */
import { expect } from "chai";
import { InvokeCommand, LambdaClient } from "@aws-sdk/client-lambda";
import { PublishCommand, SNSClient } from "@aws-sdk/client-sns";
import {
  DescribeExecutionCommand,
  SendTaskFailureCommand,
  SendTaskHeartbeatCommand,
  SendTaskSuccessCommand,
  SFNClient,
  StartExecutionCommand,
} from "@aws-sdk/client-sfn";
import type { APIGatewayProxyEvent, SQSEvent } from "aws-lambda";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import "../../local/polyfills";
import type { Handler, HandlerLoader } from "../../local/lambda";
import { startOfflineSystem, type OfflineSystem } from "../../local/system";
import { buildTopology } from "../../local/topology";
import { FIXTURE, fixtureResources } from "./support/fixture";
import { sleep } from "./support/offline";

interface Seen {
  payments: { amount: number; token: string; receiveCount: string }[];
  compensations: { orderId: string; error: { Error: string; Cause?: string } }[];
  compensateCalls: number;
  compensateCallsByOrder: Record<string, number>;
}

/** Fake handlers: each payment outcome is chosen by the order amount. */
function fakeLoader(seen: Seen): HandlerLoader {
  return (fn, env): Handler => {
    const sfn = new SFNClient({});
    switch (fn.handler) {
      case "createOrder":
        return async (e) => {
          const event = e as APIGatewayProxyEvent;
          const { amount, id } = JSON.parse(event.body ?? "{}") as { amount: number; id?: string };
          const orderId = id ?? `o-${Date.now()}-${Math.round(Math.random() * 1e6)}`;
          await sfn.send(
            new StartExecutionCommand({
              stateMachineArn: String(env.STATE_MACHINE_ARN),
              name: orderId,
              input: JSON.stringify({ order: { orderId, items: [], total: { amount, currency: "USD" } } }),
            }),
          );
          return {
            statusCode: 201,
            headers: { "Content-Type": "application/json" },
            body: JSON.stringify({ orderId }),
          };
        };
      case "processPayment":
        return async (e) => {
          const failures: { itemIdentifier: string }[] = [];
          for (const r of (e as SQSEvent).Records) {
            const { order, taskToken } = JSON.parse(r.body) as {
              order: { orderId: string; total: { amount: number } };
              taskToken: string;
            };
            const amount = order.total.amount;
            seen.payments.push({
              amount,
              token: taskToken,
              receiveCount: r.attributes.ApproximateReceiveCount,
            });
            if (amount === 3) failures.push({ itemIdentifier: r.messageId });
            else if (amount === 1) {
              await sfn.send(new SendTaskHeartbeatCommand({ taskToken }));
              await sfn.send(
                new SendTaskSuccessCommand({ taskToken, output: JSON.stringify({ charged: amount }) }),
              );
            } else if (amount === 2) {
              await sfn.send(
                new SendTaskFailureCommand({ taskToken, error: "PaymentDeclined", cause: "{}" }),
              );
            }
            // 4: acknowledged, never reported (a consumer that lost it).
          }
          return { batchItemFailures: failures };
        };
      case "sendNotification":
        return async (e) => {
          const input = e as { order: { orderId: string } };
          await new SNSClient({}).send(
            new PublishCommand({
              TopicArn: String(env.NOTIFICATION_TOPIC_ARN),
              Subject: "done",
              Message: input.order.orderId,
            }),
          );
          return { notified: true };
        };
      case "compensateOrder":
        return async (e) => {
          seen.compensateCalls++;
          const input = e as { order: { orderId: string }; error: { Error: string; Cause?: string } };
          seen.compensateCallsByOrder[input.order.orderId] =
            (seen.compensateCallsByOrder[input.order.orderId] ?? 0) + 1;
          if (seen.compensateCalls === 1)
            throw Object.assign(new Error("first call fails"), { name: "Transient.Boom" });
          seen.compensations.push({ orderId: input.order.orderId, error: input.error });
          return { compensated: true };
        };
      case "updateInventory":
        return async (e) => {
          const input = e as { action: string };
          if (input.action === "explode")
            throw Object.assign(new Error("no such action"), { name: "InvalidAction" });
          return { action: input.action, ok: true };
        };
      default:
        throw new Error(`no fake for ${fn.handler}`);
    }
  };
}

describe("offline runtime: emulators, adapters and front ends", function () {
  this.timeout(30_000);
  let system: OfflineSystem;
  const seen: Seen = { payments: [], compensations: [], compensateCalls: 0, compensateCallsByOrder: {} };
  const notifications = path.join(mkdtempSync(path.join(tmpdir(), "orderflow-")), "notifications.jsonl");
  let sfn: SFNClient;

  before(async () => {
    system = await startOfflineSystem({
      topology: buildTopology(fixtureResources()),
      loader: fakeLoader(seen),
      timings: {
        callbackTimeoutSeconds: 4,
        heartbeatSeconds: 2,
        visibilityTimeoutSeconds: 1,
        maxRetryIntervalSeconds: 1,
      },
      logLevel: "silent",
      throttle: true,
      notificationsFile: notifications,
    });
    sfn = new SFNClient({});
  });
  after(async () => system?.stop());

  const post = (body: unknown, key: string | null = system.apiKey) =>
    fetch(`${system.url}/orders`, {
      method: "POST",
      headers: { "content-type": "application/json", ...(key ? { "x-api-key": key } : {}) },
      body: JSON.stringify(body),
    });
  const start = async (amount: number) => {
    for (let i = 0; i < 40; i++) {
      const r = await post({ amount });
      if (r.status === 201) return ((await r.json()) as { orderId: string }).orderId;
      expect(r.status).to.equal(429);
      await sleep(250);
    }
    throw new Error("throttled for 10 s");
  };
  const ended = async (orderId: string) => {
    const e = [...system.sfn.executions.values()].find((x) => x.name === orderId)!;
    await e.done;
    return e;
  };

  it("installs Promise.withResolvers on Node 20", () => {
    const { promise, resolve } = (
      Promise as unknown as { withResolvers: <T>() => { promise: Promise<T>; resolve: (v: T) => void } }
    ).withResolvers<number>();
    resolve(7);
    return promise.then((v) => expect(v).to.equal(7));
  });

  it("runs the callback task with a real token, then notifies (SNS recorded in memory and in the file)", async () => {
    const orderId = await start(1);
    const e = await ended(orderId);
    expect(e.status).to.equal("SUCCEEDED");
    expect(e.states).to.deep.equal(["ProcessPayment", "NotifyCustomer"]);
    expect(JSON.parse(String(e.output)).payment).to.deep.equal({ charged: 1 });
    const token = seen.payments.find((p) => p.amount === 1)!.token;
    expect(token).to.match(/^lt1\./);
    expect(system.sns.notifications.map((n) => n.message)).to.include(orderId);
    expect(readFileSync(notifications, "utf8")).to.contain(orderId);
    // A used token is gone.
    const err = await sfn
      .send(new SendTaskSuccessCommand({ taskToken: token, output: "{}" }))
      .catch((x: Error) => x);
    expect((err as Error).name).to.equal("TaskDoesNotExist");
  });

  it("routes SendTaskFailure to Compensate with the error name; a Lambda error is retried by its name", async () => {
    const orderId = await start(2);
    const e = await ended(orderId);
    expect(e.status).to.equal("SUCCEEDED");
    expect(e.states).to.deep.equal(["ProcessPayment", "Compensate"]);
    // The first compensate call threw `Transient.Boom`; the definition's Retry matched it.
    expect(seen.compensateCallsByOrder[orderId]).to.equal(2);
    expect(seen.compensations.find((c) => c.orderId === orderId)!.error.Error).to.equal("PaymentDeclined");
  });

  it("times out a task without heartbeat (States.HeartbeatTimeout); a late answer gets TaskTimedOut", async () => {
    const orderId = await start(4);
    const e = await ended(orderId);
    expect(e.states).to.deep.equal(["ProcessPayment", "Compensate"]);
    expect(seen.compensations.find((c) => c.orderId === orderId)!.error.Error).to.equal(
      "States.HeartbeatTimeout",
    );
    const token = seen.payments.find((p) => p.amount === 4)!.token;
    const err = await sfn
      .send(new SendTaskSuccessCommand({ taskToken: token, output: "{}" }))
      .catch((x: Error) => x);
    expect((err as Error).name).to.equal("TaskTimedOut");
  });

  it("redelivers batch item failures, moves them to the DLQ after maxReceiveCount, and the workflow still ends", async () => {
    const orderId = await start(3);
    const e = await ended(orderId);
    expect(e.states).to.deep.equal(["ProcessPayment", "Compensate"]);
    expect(seen.compensations.find((c) => c.orderId === orderId)!.error.Error).to.match(
      /^States\.(Heartbeat)?Timeout$/,
    );
    // The heartbeat timeout may end the execution before the last delivery: wait for the DLQ.
    let dlq = await system.sqs.depth(FIXTURE.dlq);
    for (let i = 0; i < 50 && dlq.visible === 0; i++) {
      await sleep(100);
      dlq = await system.sqs.depth(FIXTURE.dlq);
    }
    expect(dlq.visible).to.equal(1);
    expect(seen.payments.filter((p) => p.amount === 3).map((p) => p.receiveCount)).to.deep.equal([
      "1",
      "2",
      "3",
    ]);
  });

  it("answers task calls with bad tokens like Step Functions", async () => {
    const garbage = await sfn
      .send(new SendTaskHeartbeatCommand({ taskToken: "not-a-token" }))
      .catch((x: Error) => x);
    expect((garbage as Error).name).to.equal("InvalidToken");
    const unknown = await sfn
      .send(new SendTaskFailureCommand({ taskToken: "lt1.unknown", error: "X" }))
      .catch((x: Error) => x);
    expect((unknown as Error).name).to.equal("TaskDoesNotExist");
  });

  it("makes StartExecution idempotent by name and input; other input is ExecutionAlreadyExists", async () => {
    const input = JSON.stringify({
      order: { orderId: "idem-1", items: [], total: { amount: 4, currency: "USD" } },
    });
    const a = await sfn.send(
      new StartExecutionCommand({ stateMachineArn: FIXTURE.stateMachineArn, name: "idem-1", input }),
    );
    const b = await sfn.send(
      new StartExecutionCommand({ stateMachineArn: FIXTURE.stateMachineArn, name: "idem-1", input }),
    );
    expect(b.executionArn).to.equal(a.executionArn);
    const err = await sfn
      .send(
        new StartExecutionCommand({
          stateMachineArn: FIXTURE.stateMachineArn,
          name: "idem-1",
          input: input.replace('"amount":4', '"amount":5'),
        }),
      )
      .catch((x: Error) => x);
    expect((err as Error).name).to.equal("ExecutionAlreadyExists");
    const d = await sfn.send(new DescribeExecutionCommand({ executionArn: a.executionArn }));
    expect(d).to.include({ status: "RUNNING", name: "idem-1" });
    const missing = await sfn
      .send(new StartExecutionCommand({ stateMachineArn: `${FIXTURE.stateMachineArn}-nope`, name: "x" }))
      .catch((x: Error) => x);
    expect((missing as Error).name).to.equal("StateMachineDoesNotExist");
  });

  it("serves Lambda Invoke: results, Unhandled errors with errorType, unknown functions", async () => {
    const lambda = new LambdaClient({});
    const ok = await lambda.send(
      new InvokeCommand({
        FunctionName: FIXTURE.fn.updateInventory,
        Payload: JSON.stringify({ action: "reserve" }),
      }),
    );
    expect(JSON.parse(Buffer.from(ok.Payload!).toString())).to.deep.equal({ action: "reserve", ok: true });
    expect(ok.FunctionError).to.equal(undefined);
    const bad = await lambda.send(
      new InvokeCommand({
        FunctionName: `arn:aws:lambda:us-east-1:123456789012:function:${FIXTURE.fn.updateInventory}`,
        Payload: JSON.stringify({ action: "explode" }),
      }),
    );
    expect(bad.FunctionError).to.equal("Unhandled");
    expect(JSON.parse(Buffer.from(bad.Payload!).toString())).to.include({
      errorType: "InvalidAction",
      errorMessage: "no such action",
    });
    const missing = await lambda
      .send(new InvokeCommand({ FunctionName: "nope", Payload: "{}" }))
      .catch((x: Error) => x);
    expect((missing as Error).name).to.equal("ResourceNotFoundException");
  });

  it("validates bodies against the registered model (BAD_REQUEST_BODY template) and throttles per the usage plan", async () => {
    await sleep(1000); // refill the bucket
    const bad = await post({ amount: 0, extra: 1 });
    expect(bad.status).to.equal(400);
    const body = (await bad.json()) as { error: string; message: string };
    expect(body.error).to.equal("ValidationError");
    expect(body.message).to.contain("amount").and.contain("extra");
    expect(bad.headers.get("access-control-allow-origin")).to.equal("http://localhost:3000");
    // Burst 3, rate 5/s: a quick run of 10 must see 429s.
    const statuses = await Promise.all(
      Array.from({ length: 10 }, () => post({ amount: 0 }).then((r) => r.status)),
    );
    expect(statuses).to.include(429);
    expect(statuses.filter((s) => s !== 429 && s !== 400)).to.deep.equal([]);
    const forbidden = await post({ amount: 1 }, null);
    expect(forbidden.status).to.equal(403);
    expect(await forbidden.json()).to.deep.equal({ message: "Forbidden" });
  });
});
