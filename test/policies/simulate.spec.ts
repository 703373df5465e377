/**
 * Least privilege, proven by evaluation: for each Lambda role the program registers,
 * @cloud-copilot/iam-simulate (AGPL, test-only; never imported by policies/) evaluates the role's
 * identity policies. Every call the handler makes must be allowed on its exact ARN; a list of
 * dangerous calls, calls denied to one role in particular, and every call only the OTHER handlers
 * make (every handler in HANDLER_IDS, the sweeper included), must be denied.
 */
import { expect } from "chai";
import { MOCK_ACCOUNT } from "../../program/mocks";
import type { RegisteredResource } from "../../program/mocks";
import { ENV } from "../../functions/shared/settings";
import { Call, callKey, decide, roleFor } from "../support/iamSimulate";
import { mockArn as arn } from "../support/policyFixtures";
import { byType, captureProgram, functionFor, HANDLER_IDS, HandlerModule, one, T } from "../support/program";

const envOf = (fn: RegisteredResource) =>
  (fn.inputs.environment as { variables?: Record<string, string> } | undefined)?.variables ?? {};

describe("Lambda roles under iam-simulate", function () {
  this.timeout(120_000);
  let all: RegisteredResource[];
  let A: Record<string, string>;
  let expected: Record<HandlerModule, Call[]>;
  /** Calls that must be denied to one role in particular (besides `dangerous` and the others' calls). */
  let deniedTo: Partial<Record<HandlerModule, Call[]>>;
  /** Calls a role is allowed although its handler never makes them (known gaps, see before()). */
  let dangerous: Call[];
  let keyPolicies: Record<string, unknown>;

  before(async () => {
    all = await captureProgram();
    const tableArn = (suffix: string) => String(one(all, T.table, `-${suffix}`).state.arn);
    const fnArn = (handler: string) => String(functionFor(all, handler).state.arn);
    A = {
      orders: tableArn("orders"),
      inventory: tableArn("inventory"),
      payments: tableArn("payments"),
      key: String(one(all, T.key).state.arn),
      // The queue is the one the consumer's event source mapping reads; its DLQ is in its redrive policy.
      queue: String(one(all, T.esm).inputs.eventSourceArn),
      dlq: "",
      // The topic is the one send_notification is told to publish to.
      topic: String(envOf(functionFor(all, "sendNotification"))[ENV.topicArn]),
      stateMachine: String(one(all, T.stateMachine).state.arn),
      updateInventory: fnArn("updateInventory"),
      createOrder: fnArn("createOrder"),
      compensateOrder: fnArn("compensateOrder"),
      sendNotification: fnArn("sendNotification"),
      processPayment: fnArn("processPayment"),
      paymentsQueue: String(one(all, T.queue, "-payments").state.arn),
    };
    // An execution of this state machine (what the sweeper describes).
    A.execution = `${A.stateMachine.replace(":stateMachine:", ":execution:")}:3f2a1c9e-8b7d-4e6f-a5b4-c3d2e1f0a9b8`;
    const queue = byType(all, T.queue).find((q) => q.state.arn === A.queue);
    A.dlq = String(JSON.parse(String(queue?.inputs.redrivePolicy ?? "{}")).deadLetterTargetArn);
    const otherTopics = byType(all, T.topic)
      .map((t) => String(t.state.arn))
      .filter((t) => t !== A.topic);
    const orderIndexes = (
      (one(all, T.table, "-orders").inputs.globalSecondaryIndexes ?? []) as {
        name: string;
      }[]
    ).map((i) => `${A.orders}/index/${i.name}`);
    // Tables are encrypted with the CMK: readers need kms:Decrypt, writers kms:GenerateDataKey too.
    const tableKey = [{ action: "kms:Decrypt", resource: A.key }];
    const writerKey = [...tableKey, { action: "kms:GenerateDataKey", resource: A.key }];
    expected = {
      createOrder: [
        { action: "dynamodb:BatchGetItem", resource: A.inventory },
        { action: "dynamodb:PutItem", resource: A.orders },
        { action: "dynamodb:GetItem", resource: A.orders },
        { action: "states:StartExecution", resource: A.stateMachine },
        ...writerKey,
      ],
      getOrder: [{ action: "dynamodb:GetItem", resource: A.orders }, ...tableKey],
      listOrders: [...orderIndexes.map((resource) => ({ action: "dynamodb:Query", resource })), ...tableKey],
      processPayment: [
        { action: "dynamodb:GetItem", resource: A.orders },
        { action: "dynamodb:UpdateItem", resource: A.orders },
        { action: "dynamodb:GetItem", resource: A.payments },
        { action: "dynamodb:PutItem", resource: A.payments },
        { action: "lambda:InvokeFunction", resource: A.updateInventory },
        { action: "states:SendTaskSuccess", resource: "*" },
        { action: "states:SendTaskFailure", resource: "*" },
        { action: "states:SendTaskHeartbeat", resource: "*" },
        { action: "sqs:ReceiveMessage", resource: A.queue },
        { action: "sqs:DeleteMessage", resource: A.queue },
        { action: "sqs:GetQueueAttributes", resource: A.queue },
        ...writerKey,
      ],
      updateInventory: [
        { action: "dynamodb:UpdateItem", resource: A.inventory },
        { action: "dynamodb:GetItem", resource: A.inventory },
        ...writerKey,
      ],
      sendNotification: [
        { action: "dynamodb:GetItem", resource: A.orders },
        { action: "dynamodb:UpdateItem", resource: A.orders },
        { action: "sns:Publish", resource: A.topic },
        ...writerKey,
      ],
      compensateOrder: [
        { action: "dynamodb:GetItem", resource: A.orders },
        { action: "dynamodb:UpdateItem", resource: A.orders },
        { action: "dynamodb:GetItem", resource: A.payments },
        { action: "dynamodb:PutItem", resource: A.payments },
        { action: "lambda:InvokeFunction", resource: A.updateInventory },
        ...writerKey,
      ],
      sweepOrders: [
        { action: "dynamodb:Query", resource: `${A.orders}/index/byStatus` },
        ...tableKey,
        { action: "states:DescribeExecution", resource: A.execution },
        { action: "states:StartExecution", resource: A.stateMachine },
        { action: "lambda:InvokeFunction", resource: A.compensateOrder },
        // Settling from the records: the order, its ledger, the reservation markers, and the
        // workflow's own steps (complete, commit).
        { action: "dynamodb:GetItem", resource: A.orders },
        { action: "dynamodb:GetItem", resource: A.payments },
        { action: "dynamodb:Scan", resource: A.inventory },
        { action: "lambda:InvokeFunction", resource: A.updateInventory },
        { action: "lambda:InvokeFunction", resource: A.sendNotification },
      ],
    };
    deniedTo = {
      // Reads by the byStatus index and by key only: no other index, no writes, no order scans.
      sweepOrders: [
        ...orderIndexes
          .filter((resource) => !resource.endsWith("/index/byStatus"))
          .map((resource) => ({ action: "dynamodb:Query", resource })),
        { action: "dynamodb:PutItem", resource: A.orders },
        { action: "dynamodb:UpdateItem", resource: A.orders },
        { action: "dynamodb:PutItem", resource: A.payments },
        { action: "dynamodb:UpdateItem", resource: A.inventory },
        { action: "dynamodb:DeleteItem", resource: A.orders },
        { action: "dynamodb:Scan", resource: A.orders },
        { action: "dynamodb:Query", resource: A.orders },
        { action: "dynamodb:Query", resource: `${A.payments}/index/byStatus` },
        { action: "kms:GenerateDataKey", resource: A.key },
        { action: "states:StopExecution", resource: A.execution },
        { action: "states:SendTaskSuccess", resource: "*" },
        { action: "states:StartExecution", resource: arn("states", "stateMachine:other") },
        { action: "states:DescribeExecution", resource: arn("states", "execution:other:x") },
        { action: "lambda:InvokeFunction", resource: A.processPayment },
        { action: "lambda:UpdateFunctionCode", resource: A.compensateOrder },
        { action: "sqs:SendMessage", resource: A.paymentsQueue },
        { action: "iam:PassRole", resource: `arn:aws:iam::${MOCK_ACCOUNT}:role/any` },
      ],
    };
    const otherKey = arn("kms", "key/00000000-0000-0000-0000-000000000000");
    // KMS needs the key policy too: the simulator, like KMS, denies a key whose policy does not
    // delegate to the account's IAM policies. The other key gets AWS's default key policy.
    const defaultKeyPolicy = {
      Version: "2012-10-17",
      Statement: [
        {
          Effect: "Allow",
          Principal: { AWS: `arn:aws:iam::${MOCK_ACCOUNT}:root` },
          Action: "kms:*",
          Resource: "*",
        },
      ],
    };
    keyPolicies = {
      [A.key]: JSON.parse(String(one(all, T.key).inputs.policy ?? JSON.stringify(defaultKeyPolicy))),
      [otherKey]: defaultKeyPolicy,
    };
    dangerous = [
      { action: "dynamodb:DeleteTable", resource: A.orders },
      { action: "dynamodb:DeleteTable", resource: A.payments },
      { action: "dynamodb:UpdateTable", resource: A.inventory },
      { action: "dynamodb:DeleteItem", resource: A.orders },
      { action: "dynamodb:Scan", resource: A.payments },
      { action: "dynamodb:GetItem", resource: arn("dynamodb", "table/another-app-customers") },
      { action: "dynamodb:PutItem", resource: arn("dynamodb", "table/another-app-customers") },
      { action: "dynamodb:ExportTableToPointInTime", resource: A.orders },
      { action: "iam:PassRole", resource: `arn:aws:iam::${MOCK_ACCOUNT}:role/admin` },
      { action: "iam:CreateRole", resource: `arn:aws:iam::${MOCK_ACCOUNT}:role/backdoor` },
      { action: "iam:AttachRolePolicy", resource: `arn:aws:iam::${MOCK_ACCOUNT}:role/backdoor` },
      { action: "iam:CreateAccessKey", resource: `arn:aws:iam::${MOCK_ACCOUNT}:user/admin` },
      { action: "kms:Decrypt", resource: otherKey },
      { action: "kms:ScheduleKeyDeletion", resource: A.key },
      { action: "kms:PutKeyPolicy", resource: A.key },
      { action: "kms:CreateGrant", resource: A.key },
      { action: "sqs:DeleteQueue", resource: A.queue },
      { action: "sqs:PurgeQueue", resource: A.queue },
      { action: "sqs:SetQueueAttributes", resource: A.queue },
      { action: "sqs:ReceiveMessage", resource: A.dlq },
      { action: "sns:DeleteTopic", resource: A.topic },
      { action: "sns:Subscribe", resource: A.topic },
      { action: "sns:Publish", resource: arn("sns", "another-app-topic") },
      ...otherTopics.map((resource) => ({ action: "sns:Publish", resource })),
      { action: "lambda:UpdateFunctionCode", resource: A.updateInventory },
      { action: "lambda:AddPermission", resource: A.createOrder },
      { action: "lambda:InvokeFunction", resource: A.createOrder },
      { action: "states:DeleteStateMachine", resource: A.stateMachine },
      { action: "states:UpdateStateMachine", resource: A.stateMachine },
      { action: "states:StartExecution", resource: arn("states", "stateMachine:another-workflow") },
      { action: "logs:DeleteLogGroup", resource: arn("logs", "log-group:/aws/lambda/anything") },
      { action: "s3:GetObject", resource: "arn:aws:s3:::any-bucket/secrets.txt" },
      { action: "sts:AssumeRole", resource: `arn:aws:iam::${MOCK_ACCOUNT}:role/admin` },
      { action: "secretsmanager:GetSecretValue", resource: arn("secretsmanager", "secret:prod-db-AbCdEf") },
    ];
    expect(dangerous.length, "dangerous calls").to.be.at.least(20);
    expect(Object.keys(expected).sort(), "a handler without expected calls").to.deep.equal(
      [...HANDLER_IDS].sort(),
    );
  });

  function roleOf(handler: HandlerModule): { principal: string; policies: unknown[] } {
    const { principal, policies, managed } = roleFor(all, handler);
    expect(managed, `${handler} role has managed policies`).to.deep.equal([]);
    return { principal, policies };
  }

  for (const handler of HANDLER_IDS) {
    describe(handler, () => {
      it("is allowed every call the handler makes, on its exact ARN", async () => {
        const { principal, policies } = roleOf(handler);
        const denied: string[] = [];
        for (const call of expected[handler]) {
          const result = await decide(principal, policies, call, keyPolicies[call.resource]);
          if (result !== "Allowed") denied.push(`${call.action} on ${call.resource}: ${result}`);
        }
        expect(denied).to.deep.equal([]);
      });

      it("is denied the dangerous calls and every call only other handlers make", async () => {
        const { principal, policies } = roleOf(handler);
        const own = new Set(expected[handler].map(callKey));
        const others = HANDLER_IDS.filter((h) => h !== handler)
          .flatMap((h) => expected[h])
          .filter((c) => !own.has(callKey(c)));
        const unique = [
          ...new Map(
            [...dangerous, ...(deniedTo[handler] ?? []), ...others].map((c) => [callKey(c), c]),
          ).values(),
        ];
        const allowed: string[] = [];
        for (const call of unique) {
          const result = await decide(principal, policies, call, keyPolicies[call.resource]);
          if (result === "Allowed") allowed.push(`${call.action} on ${call.resource}`);
        }
        expect(allowed).to.deep.equal([]);
      });
    });
  }

  describe("the simulator itself", () => {
    it("allows what a broad policy grants and denies what no policy grants (the checks above can fail)", async () => {
      const broad = {
        Version: "2012-10-17",
        Statement: [{ Effect: "Allow", Action: "dynamodb:*", Resource: "*" }],
      };
      const principal = `arn:aws:iam::${MOCK_ACCOUNT}:role/probe`;
      expect(
        await decide(principal, [broad], { action: "dynamodb:DeleteTable", resource: A.orders }),
      ).to.equal("Allowed");
      expect(await decide(principal, [], { action: "dynamodb:GetItem", resource: A.orders })).to.equal(
        "ImplicitlyDenied",
      );
      const scoped = {
        Version: "2012-10-17",
        Statement: [{ Effect: "Allow", Action: "kms:Decrypt", Resource: A.key }],
      };
      expect(
        await decide(principal, [scoped], { action: "kms:Decrypt", resource: A.key }, keyPolicies[A.key]),
      ).to.equal("Allowed");
    });
  });
});
