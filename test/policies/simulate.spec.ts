/**
 * Least privilege, proven by evaluation: for each Lambda role the program registers,
 * @cloud-copilot/iam-simulate (AGPL, test-only; never imported by policies/) evaluates the role's
 * identity policies. Every call the handler makes must be allowed on its exact ARN; a list of
 * dangerous calls, and every call only the OTHER handlers make, must be denied.
 */
import { runSimulation } from "@cloud-copilot/iam-simulate";
import { expect } from "chai";
import { captureProgram } from "../../program/capture";
import { MOCK_ACCOUNT, MOCK_REGION } from "../../program/mocks";
import { HANDLER_TAG } from "../../components/orderFunction";
import type { RegisteredResource } from "../../program/mocks";
import { ENV } from "../../functions/shared/settings";

const envOf = (fn: RegisteredResource) =>
  (fn.inputs.environment as { variables?: Record<string, string> } | undefined)?.variables ?? {};

interface Call {
  action: string;
  resource: string;
}

const arn = (service: string, resource: string) =>
  `arn:aws:${service}:${MOCK_REGION}:${MOCK_ACCOUNT}:${resource}`;

/** Simulates `call` for a principal with `policies`; "Allowed", "ImplicitlyDenied", ... */
export async function decide(
  principal: string,
  policies: unknown[],
  call: Call,
  resourcePolicy?: unknown,
): Promise<string> {
  const response = await runSimulation(
    {
      request: {
        principal,
        action: call.action,
        resource: { resource: call.resource, accountId: MOCK_ACCOUNT },
        contextVariables: {},
      },
      identityPolicies: policies.map((policy, i) => ({ name: `policy-${i}`, policy })),
      serviceControlPolicies: [],
      resourceControlPolicies: [],
      ...(resourcePolicy ? { resourcePolicy } : {}),
    },
    {},
  );
  if (response.resultType === "error") {
    throw new Error(
      `simulation of ${call.action} on ${call.resource} is invalid: ${JSON.stringify(response.errors)}`,
    );
  }
  return response.overallResult;
}

const byType = (all: RegisteredResource[], type: string) => all.filter((r) => r.type === type);

function only(all: RegisteredResource[], type: string, nameIncludes: string): RegisteredResource {
  const found = byType(all, type).filter((r) => r.name.includes(nameIncludes));
  if (found.length !== 1)
    throw new Error(
      `expected one ${type} *${nameIncludes}*, found ${found.map((r) => r.name).join(", ") || "none"}`,
    );
  return found[0];
}

/** Identity policies of a role: inline RolePolicy resources and the role's inlinePolicies. */
function identityPoliciesOf(all: RegisteredResource[], role: RegisteredResource): unknown[] {
  const ids = [role.state.id, role.state.name, role.state.arn];
  const inline = byType(all, "aws:iam/rolePolicy:RolePolicy").filter((p) =>
    ids.includes(p.inputs.role as string),
  );
  const embedded = ((role.inputs.inlinePolicies ?? []) as { policy?: string }[]).filter((p) => p.policy);
  return [
    ...inline.map((p) => JSON.parse(String(p.inputs.policy))),
    ...embedded.map((p) => JSON.parse(String(p.policy))),
  ];
}

describe("Lambda roles under iam-simulate", function () {
  this.timeout(120_000);
  let all: RegisteredResource[];
  let A: Record<string, string>;
  let expected: Record<string, Call[]>;
  let dangerous: Call[];
  let keyPolicies: Record<string, unknown>;

  before(async () => {
    all = (await captureProgram()).filter((r) => r.name.startsWith("orderflow-test"));
    const tableArn = (suffix: string) =>
      String(only(all, "aws:dynamodb/table:Table", `-${suffix}`).state.arn);
    const fnArn = (handler: string) => String(functionFor(handler).state.arn);
    A = {
      orders: tableArn("orders"),
      inventory: tableArn("inventory"),
      payments: tableArn("payments"),
      key: String(only(all, "aws:kms/key:Key", "").state.arn),
      // The queue is the one the consumer's event source mapping reads; its DLQ is in its redrive policy.
      queue: String(only(all, "aws:lambda/eventSourceMapping:EventSourceMapping", "").inputs.eventSourceArn),
      dlq: "",
      // The topic is the one send_notification is told to publish to.
      topic: String(envOf(functionFor("sendNotification"))[ENV.topicArn]),
      stateMachine: String(only(all, "aws:sfn/stateMachine:StateMachine", "").state.arn),
      updateInventory: fnArn("updateInventory"),
      createOrder: fnArn("createOrder"),
    };
    const queue = byType(all, "aws:sqs/queue:Queue").find((q) => q.state.arn === A.queue);
    A.dlq = String(JSON.parse(String(queue?.inputs.redrivePolicy ?? "{}")).deadLetterTargetArn);
    const otherTopics = byType(all, "aws:sns/topic:Topic")
      .map((t) => String(t.state.arn))
      .filter((t) => t !== A.topic);
    const orderIndexes = (
      (only(all, "aws:dynamodb/table:Table", "-orders").inputs.globalSecondaryIndexes ?? []) as {
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
      [A.key]: JSON.parse(
        String(only(all, "aws:kms/key:Key", "").inputs.policy ?? JSON.stringify(defaultKeyPolicy)),
      ),
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
  });

  function functionFor(handler: string): RegisteredResource {
    const found = byType(all, "aws:lambda/function:Function").filter(
      (f) => (f.inputs.tags as Record<string, string> | undefined)?.[HANDLER_TAG] === handler,
    );
    if (found.length !== 1) throw new Error(`expected one function for ${handler}, found ${found.length}`);
    return found[0];
  }

  function roleOf(handler: string): { role: RegisteredResource; policies: unknown[] } {
    const fn = functionFor(handler);
    const role = byType(all, "aws:iam/role:Role").find((r) => r.state.arn === fn.inputs.role);
    if (!role) throw new Error(`${handler}: no role with ARN ${String(fn.inputs.role)} in the program`);
    expect(
      (role.inputs.managedPolicyArns ?? []) as string[],
      `${handler} role has managed policies`,
    ).to.deep.equal([]);
    const attachments = byType(all, "aws:iam/rolePolicyAttachment:RolePolicyAttachment").filter((a) =>
      [role.state.id, role.state.name, role.state.arn].includes(a.inputs.role as string),
    );
    expect(
      attachments.map((a) => a.inputs.policyArn),
      `${handler} role has managed policies`,
    ).to.deep.equal([]);
    return { role, policies: identityPoliciesOf(all, role) };
  }

  const HANDLERS = [
    "createOrder",
    "getOrder",
    "listOrders",
    "processPayment",
    "updateInventory",
    "sendNotification",
    "compensateOrder",
  ];
  let checked = 0;

  for (const handler of HANDLERS) {
    describe(handler, () => {
      it("is allowed every call the handler makes, on its exact ARN", async () => {
        const { role, policies } = roleOf(handler);
        const denied: string[] = [];
        for (const call of expected[handler]) {
          checked++;
          const result = await decide(String(role.state.arn), policies, call, keyPolicies[call.resource]);
          if (result !== "Allowed") denied.push(`${call.action} on ${call.resource}: ${result}`);
        }
        expect(denied).to.deep.equal([]);
      });

      it("is denied the dangerous calls and every call only other handlers make", async () => {
        const { role, policies } = roleOf(handler);
        const own = new Set(expected[handler].map((c) => `${c.action} ${c.resource}`));
        const others = HANDLERS.filter((h) => h !== handler)
          .flatMap((h) => expected[h])
          .filter((c) => !own.has(`${c.action} ${c.resource}`));
        const unique = [
          ...new Map([...dangerous, ...others].map((c) => [`${c.action} ${c.resource}`, c])).values(),
        ];
        expect(dangerous.length).to.be.at.least(20);
        const allowed: string[] = [];
        for (const call of unique) {
          checked++;
          const result = await decide(String(role.state.arn), policies, call, keyPolicies[call.resource]);
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

  describe("in total", () => {
    it("ran at least 20 denial checks per role", () => {
      expect(checked).to.be.at.least(HANDLERS.length * (20 + 1));
    });
  });
});
