/**
 * Bad fixtures: the happy-path stack (../support/policyFixtures.ts) with one thing changed, and
 * the rule that must catch it. `culprit` names the changed value so the unknown-value spec can
 * make exactly that value unknown.
 */
import { setValue, TestResource, urnOf } from "../support/policyHarness";
import {
  ACCOUNT,
  ARN,
  changed,
  consumerPolicy,
  definition,
  doc,
  goodStack,
  mockArn,
  queuePolicy,
  T,
  topicPolicy,
  trust,
} from "../support/policyFixtures";

export interface BadCase {
  rule: string;
  title: string;
  bad: (stack: TestResource[]) => TestResource[];
  /** The value that was changed (resource name + dotted path), when a single value was. */
  culprit?: { resource: string; path: string };
  /** URN the violation must point at, when the rule reports one. */
  urn?: string;
}

/** URN of each happy-path resource, by name (names are unique in the fixture). */
const FIXTURE_URNS = new Map(goodStack().map((r) => [r.name, r.urn ?? urnOf(r.type, r.name)]));
if (FIXTURE_URNS.size !== goodStack().length) throw new Error("goodStack() has two resources with one name");

const urnOfFixture = (name: string) => {
  const urn = FIXTURE_URNS.get(name);
  if (!urn) throw new Error(`unknown fixture ${name}`);
  return urn;
};

/** One field of one resource changed. */
function field(
  rule: string,
  title: string,
  resource: string,
  path: string,
  value: unknown,
  urnOfResource = resource,
): BadCase {
  return {
    rule,
    title,
    bad: (stack) => changed(stack, resource, (p) => setValue(p, path, value)),
    culprit: { resource, path },
    urn: urnOfFixture(urnOfResource),
  };
}

/** The consumer's inline policy with one statement replaced by `statement`. */
function policyWith(
  rule: string,
  title: string,
  statement: Record<string, unknown>,
  urnOfResource = "process-payment-policy",
): BadCase {
  const policy = JSON.parse(consumerPolicy()) as { Statement: Record<string, unknown>[] };
  policy.Statement[0] = statement;
  return field(rule, title, "process-payment-policy", "policy", JSON.stringify(policy), urnOfResource);
}

/** The workflow definition with the callback state changed. */
function callbackState(title: string, change: (state: Record<string, unknown>) => void): BadCase {
  const def = definition();
  change(def.States.ProcessPayment);
  return field("sfn-callback-tasks-bounded", title, "order-workflow", "definition", JSON.stringify(def));
}

/** A resource policy (JSON on `resource`.`path`) with its first statement replaced by `statement`. */
function documentWith(
  rule: string,
  title: string,
  resource: string,
  original: string,
  statement: Record<string, unknown>,
): BadCase {
  const policy = JSON.parse(original) as { Statement: Record<string, unknown>[] };
  policy.Statement[0] = statement;
  return field(rule, title, resource, "policy", JSON.stringify(policy));
}
const queuePolicyWith = (rule: string, title: string, statement: Record<string, unknown>) =>
  documentWith(rule, title, "payments-policy", queuePolicy(), { Resource: ARN.queue, ...statement });
const topicPolicyWith = (rule: string, title: string, statement: Record<string, unknown>) =>
  documentWith(rule, title, "order-events-policy", topicPolicy(), { Resource: ARN.topic, ...statement });
/** The key policy with `statement` added after the account's default one. */
const keyPolicyWith = (rule: string, title: string, statement: Record<string, unknown>): BadCase => {
  const policy = JSON.parse(goodStack().find((r) => r.name === "cmk")!.props.policy as string) as {
    Statement: Record<string, unknown>[];
  };
  policy.Statement.push({ Resource: "*", ...statement });
  return field(rule, title, "cmk", "policy", JSON.stringify(policy));
};
const permission = (rule: string, title: string, path: string, value: unknown) =>
  field(rule, title, "process-payment-invoke", path, value);
const FOREIGN = "210987654321";

/** A resource of a type the happy path lacks, added to the stack. */
const extra = (type: string, name: string, props: Record<string, unknown>): TestResource => ({
  type,
  name,
  urn: urnOf(type, name),
  props,
});
const added = (rule: string, title: string, resource: TestResource): BadCase => ({
  rule,
  title,
  bad: add(resource),
  urn: resource.urn,
});

const attachment = (name: string, policyArn: string): TestResource => ({
  type: T.attachment,
  name,
  urn: urnOf(T.attachment, name),
  props: { role: "process-payment", policyArn, id: `${name}-id` },
  propertyDependencies: { role: [urnOf(T.role, "process-payment-role")] },
});

const add =
  (...extra: TestResource[]) =>
  (stack: TestResource[]) => [...stack, ...extra];

export const BAD_CASES: BadCase[] = [
  // encryption
  field("sqs-queue-cmk-encrypted", "queue without a key", "payments", "kmsMasterKeyId", undefined),
  field(
    "sqs-queue-cmk-encrypted",
    "DLQ with the AWS-managed key",
    "payments-dlq",
    "kmsMasterKeyId",
    "alias/aws/sqs",
  ),
  field("sqs-queue-cmk-encrypted", "queue with SQS-managed SSE", "payments", "sqsManagedSseEnabled", true),
  field("sns-topic-cmk-encrypted", "topic without a key", "order-events", "kmsMasterKeyId", undefined),
  field(
    "sns-topic-cmk-encrypted",
    "topic with the AWS-managed key",
    "order-events",
    "kmsMasterKeyId",
    "arn:aws:kms:us-east-1:123456789012:alias/aws/sns",
  ),
  field(
    "dynamodb-table-cmk-encrypted",
    "table with an AWS-owned key",
    "orders",
    "serverSideEncryption.enabled",
    false,
  ),
  field(
    "dynamodb-table-cmk-encrypted",
    "table with the AWS-managed key",
    "orders",
    "serverSideEncryption.kmsKeyArn",
    undefined,
  ),
  field("dynamodb-table-pitr-enabled", "table without PITR", "orders", "pointInTimeRecovery.enabled", false),
  field(
    "dynamodb-table-pitr-enabled",
    "table with no PITR block",
    "orders",
    "pointInTimeRecovery",
    undefined,
  ),
  field("kms-key-rotation-enabled", "key without rotation", "cmk", "enableKeyRotation", false),
  field("kms-key-rotation-enabled", "key with rotation unset", "cmk", "enableKeyRotation", undefined),
  field(
    "kms-key-policy-no-wildcard-principal",
    "key policy for AWS: *",
    "cmk",
    "policy",
    doc({ Effect: "Allow", Principal: { AWS: "*" }, Action: "kms:Decrypt", Resource: "*" }),
  ),
  field(
    "kms-key-policy-no-wildcard-principal",
    "key policy for *",
    "cmk",
    "policy",
    doc({ Effect: "Allow", Principal: "*", Action: "kms:*", Resource: "*" }),
  ),
  // iam
  policyWith("iam-no-wildcard-actions", "dynamodb:* on the table", {
    Effect: "Allow",
    Action: "dynamodb:*",
    Resource: ARN.orders,
  }),
  policyWith("iam-no-wildcard-actions", "* on the table", {
    Effect: "Allow",
    Action: ["*"],
    Resource: ARN.orders,
  }),
  policyWith("iam-known-actions", "misspelt action", {
    Effect: "Allow",
    Action: "dynamodb:GetItm",
    Resource: ARN.orders,
  }),
  policyWith("iam-known-actions", "unknown service", {
    Effect: "Allow",
    Action: "dynamo:GetItem",
    Resource: ARN.orders,
  }),
  policyWith("iam-known-actions", "pattern matching nothing", {
    Effect: "Allow",
    Action: "dynamodb:Fly*",
    Resource: ARN.orders,
  }),
  policyWith("iam-wildcard-resource-only-unscopable", "GetItem on *", {
    Effect: "Allow",
    Action: "dynamodb:GetItem",
    Resource: "*",
  }),
  policyWith("iam-wildcard-resource-only-unscopable", "kms:Decrypt on *", {
    Effect: "Allow",
    Action: "kms:Decrypt",
    Resource: ["*"],
  }),
  policyWith("iam-wildcard-resource-only-unscopable", "a pattern on *", {
    Effect: "Allow",
    Action: "sqs:Receive*",
    Resource: "*",
  }),
  policyWith("iam-no-allow-not-action", "Allow NotAction", {
    Effect: "Allow",
    NotAction: "iam:*",
    Resource: ARN.orders,
  }),
  policyWith("iam-no-allow-not-action", "Allow NotResource", {
    Effect: "Allow",
    Action: "dynamodb:GetItem",
    NotResource: ARN.orders,
  }),
  policyWith("iam-no-passrole-on-wildcard", "PassRole on *", {
    Effect: "Allow",
    Action: "iam:PassRole",
    Resource: "*",
  }),
  policyWith("iam-no-passrole-on-wildcard", "PassRole on every role", {
    Effect: "Allow",
    Action: "iam:Pass*",
    Resource: `arn:aws:iam::123456789012:role/*`,
  }),
  policyWith("iam-no-passrole-on-wildcard", "*:* (every action, so PassRole) on *", {
    Effect: "Allow",
    Action: "*:*",
    Resource: "*",
  }),
  {
    rule: "iam-no-broad-managed-policies",
    title: "AmazonDynamoDBFullAccess attached",
    bad: add(attachment("ddb-full", "arn:aws:iam::aws:policy/AmazonDynamoDBFullAccess")),
    urn: urnOf(T.attachment, "ddb-full"),
  },
  {
    rule: "iam-no-broad-managed-policies",
    title: "AdministratorAccess attached",
    bad: add(attachment("admin", "arn:aws:iam::aws:policy/AdministratorAccess")),
    urn: urnOf(T.attachment, "admin"),
  },
  field(
    "iam-no-broad-managed-policies",
    "PowerUserAccess in the role's managedPolicyArns",
    "process-payment-role",
    "managedPolicyArns",
    ["arn:aws:iam::aws:policy/PowerUserAccess"],
  ),
  field(
    "iam-trust-policy-single-service",
    "two services",
    "process-payment-role",
    "assumeRolePolicy",
    doc({
      Effect: "Allow",
      Principal: { Service: ["lambda.amazonaws.com", "states.amazonaws.com"] },
      Action: "sts:AssumeRole",
    }),
  ),
  field(
    "iam-trust-policy-single-service",
    "an account",
    "order-workflow-role",
    "assumeRolePolicy",
    doc({ Effect: "Allow", Principal: { AWS: "arn:aws:iam::210987654321:root" }, Action: "sts:AssumeRole" }),
  ),
  field(
    "iam-trust-policy-single-service",
    "anyone",
    "order-workflow-role",
    "assumeRolePolicy",
    doc({ Effect: "Allow", Principal: "*", Action: "sts:AssumeRole" }),
  ),
  {
    rule: "lambda-role-not-shared",
    title: "a second function on the consumer's role",
    bad: add({
      type: T.fn,
      name: "intruder",
      urn: urnOf(T.fn, "intruder"),
      props: {
        name: "intruder",
        arn: "arn:aws:lambda:us-east-1:123456789012:function:intruder",
        role: ARN.consumerRole,
        runtime: "nodejs22.x",
        tracingConfig: { mode: "Active" },
      },
      propertyDependencies: { role: [urnOf(T.role, "process-payment-role")] },
    }),
    urn: urnOf(T.role, "process-payment-role"),
  },
  {
    rule: "lambda-role-not-shared",
    title: "a Lambda role no function uses",
    bad: add({
      type: T.role,
      name: "orphan-role",
      urn: urnOf(T.role, "orphan-role"),
      props: {
        name: "orphan",
        arn: "arn:aws:iam::123456789012:role/orphan",
        assumeRolePolicy: trust("lambda.amazonaws.com"),
      },
    }),
    urn: urnOf(T.role, "orphan-role"),
  },
  // lambda
  field("lambda-supported-runtime", "nodejs20.x", "process-payment", "runtime", "nodejs20.x"),
  field("lambda-supported-runtime", "no runtime", "process-payment", "runtime", undefined),
  field(
    "lambda-tracing-active",
    "PassThrough tracing",
    "process-payment",
    "tracingConfig.mode",
    "PassThrough",
  ),
  field("lambda-tracing-active", "no tracing", "process-payment", "tracingConfig", undefined),
  field(
    "lambda-environment-cmk-encrypted",
    "env without kmsKeyArn",
    "process-payment",
    "kmsKeyArn",
    undefined,
  ),
  field(
    "lambda-environment-cmk-encrypted",
    "env with the AWS-managed key",
    "process-payment",
    "kmsKeyArn",
    "arn:aws:kms:us-east-1:123456789012:alias/aws/lambda",
  ),
  {
    rule: "lambda-explicit-role",
    title: "the consumer's role has CallbackFunction's AWSLambda_FullAccess",
    bad: add(attachment("lambda-full", "arn:aws:iam::aws:policy/AWSLambda_FullAccess")),
    urn: urnOf(T.fn, "process-payment"),
  },
  field("lambda-explicit-role", "a function without a role", "process-payment", "role", undefined),
  field(
    "lambda-permission-source-arn",
    "public permission, although its sourceArn names the API",
    "process-payment-invoke",
    "principal",
    "*",
  ),
  {
    rule: "lambda-permission-source-arn",
    title: "public permission without sourceArn",
    bad: (stack) =>
      changed(stack, "process-payment-invoke", (p) => {
        p.principal = "*";
        delete p.sourceArn;
      }),
    urn: urnOfFixture("process-payment-invoke"),
  },
  {
    rule: "lambda-permission-source-arn",
    title: "public permission limited to an organization and an account",
    bad: (stack) =>
      changed(stack, "process-payment-invoke", (p) => {
        p.principal = "*";
        p.principalOrgId = "o-abc123";
        p.sourceAccount = ACCOUNT;
      }),
    urn: urnOfFixture("process-payment-invoke"),
  },
  // api
  field(
    "apigateway-method-requires-api-key",
    "POST without an API key",
    "orders-post",
    "apiKeyRequired",
    false,
  ),
  field(
    "apigateway-method-has-request-validator",
    "POST without a validator",
    "orders-post",
    "requestValidatorId",
    undefined,
  ),
  field(
    "apigateway-stage-access-logs",
    "stage without access logs",
    "orders-stage",
    "accessLogSettings",
    undefined,
  ),
  field(
    "apigateway-stage-access-logs",
    "access logs without a format",
    "orders-stage",
    "accessLogSettings.format",
    "",
  ),
  field("apigateway-stage-xray-tracing", "stage without X-Ray", "orders-stage", "xrayTracingEnabled", false),
  field(
    "apigateway-no-data-trace",
    "data trace on",
    "orders-stage-settings",
    "settings.dataTraceEnabled",
    true,
  ),
  {
    rule: "apigateway-usage-plan-exists",
    title: "the stage is in no usage plan",
    bad: (stack) =>
      changed(stack, "orders-plan", (p) => {
        p.apiStages = [{ apiId: "abc123", stage: "v2" }];
      }).map((r) => (r.name === "orders-plan" ? { ...r, propertyDependencies: {} } : r)),
    culprit: { resource: "orders-plan", path: "apiStages" },
    urn: urnOf(T.stage, "orders-stage"),
  },
  // messaging
  field("sqs-lambda-source-has-dlq", "consumer queue without a DLQ", "payments", "redrivePolicy", undefined),
  field(
    "sqs-lambda-source-has-dlq",
    "maxReceiveCount 2",
    "payments",
    "redrivePolicy",
    JSON.stringify({ deadLetterTargetArn: ARN.dlq, maxReceiveCount: 2 }),
  ),
  field(
    "sqs-lambda-source-has-dlq",
    "redrive without a target",
    "payments",
    "redrivePolicy",
    JSON.stringify({ maxReceiveCount: 5 }),
  ),
  field(
    "sqs-lambda-source-has-dlq",
    "DLQ keeps messages less long than the queue",
    "payments-dlq",
    "messageRetentionSeconds",
    60,
  ),
  field(
    "sqs-visibility-timeout-covers-consumer",
    "visibility 60 s for a 30 s consumer",
    "payments",
    "visibilityTimeoutSeconds",
    60,
    "payments",
  ),
  field(
    "sqs-visibility-timeout-covers-consumer",
    "consumer timeout raised to 60 s",
    "process-payment",
    "timeout",
    60,
    "payments",
  ),
  field(
    "sqs-visibility-timeout-covers-consumer",
    "visibility left at the 30 s default",
    "payments",
    "visibilityTimeoutSeconds",
    undefined,
    "payments",
  ),
  // workflow
  field("sfn-logging-enabled", "logging OFF", "order-workflow", "loggingConfiguration.level", "OFF"),
  field("sfn-logging-enabled", "no logging", "order-workflow", "loggingConfiguration", undefined),
  field("sfn-tracing-enabled", "tracing off", "order-workflow", "tracingConfiguration.enabled", false),
  callbackState("callback without TimeoutSeconds", (s) => delete s.TimeoutSeconds),
  callbackState("callback without HeartbeatSeconds", (s) => delete s.HeartbeatSeconds),
  callbackState("callback without Catch", (s) => delete s.Catch),
  callbackState(
    "callback catching only a custom error",
    (s) => (s.Catch = [{ ErrorEquals: ["PaymentDeclined"], Next: "Compensate" }]),
  ),
  callbackState("heartbeat as long as the timeout", (s) => (s.HeartbeatSeconds = s.TimeoutSeconds)),
  {
    rule: "sfn-callback-tasks-bounded",
    title: "an unbounded callback nested in a Parallel branch",
    bad: (stack) => {
      const def = definition();
      const nested: Record<string, unknown> = { ...def.States.ProcessPayment, Next: undefined, End: true };
      delete nested.HeartbeatSeconds;
      def.States.Fanout = {
        Type: "Parallel",
        Branches: [{ StartAt: "Inner", States: { Inner: nested } }],
        End: true,
      };
      return changed(stack, "order-workflow", (p) => (p.definition = JSON.stringify(def)));
    },
    culprit: { resource: "order-workflow", path: "definition" },
    urn: urnOf(T.stateMachine, "order-workflow"),
  },
  field("sfn-callback-tasks-bounded", "definition is not JSON", "order-workflow", "definition", "{ not json"),
  // logging
  field(
    "cloudwatch-log-group-kms-encrypted",
    "log group without a key",
    "process-payment-logs",
    "kmsKeyId",
    undefined,
  ),
  field(
    "cloudwatch-log-group-retention",
    "log group kept forever",
    "process-payment-logs",
    "retentionInDays",
    undefined,
  ),
  field("cloudwatch-log-group-retention", "retention 0", "process-payment-logs", "retentionInDays", 0),
  ...PARITY_CASES(),
  ...MORE_CASES(),
];

/** A third (or further) broad input for the rules that had fewer. */
function MORE_CASES(): BadCase[] {
  const ownFn = (name: string, role: string): TestResource => ({
    type: T.fn,
    name,
    urn: urnOf(T.fn, name),
    props: { name, arn: mockArn("lambda", `function:${name}`), role, runtime: "nodejs22.x" },
  });
  return [
    field("sns-topic-cmk-encrypted", "an empty key id", "order-events", "kmsMasterKeyId", ""),
    field(
      "dynamodb-table-cmk-encrypted",
      "no serverSideEncryption block",
      "orders",
      "serverSideEncryption",
      undefined,
    ),
    field("dynamodb-table-pitr-enabled", "an empty PITR block", "orders", "pointInTimeRecovery", {}),
    {
      ...field(
        "kms-key-rotation-enabled",
        "a key stating SYMMETRIC_DEFAULT without rotation",
        "cmk",
        "enableKeyRotation",
        false,
      ),
      bad: (stack) =>
        changed(stack, "cmk", (p) => {
          p.customerMasterKeySpec = "SYMMETRIC_DEFAULT";
          p.enableKeyRotation = false;
        }),
    },
    field(
      "apigateway-stage-access-logs",
      "access logs without a destination",
      "orders-stage",
      "accessLogSettings.destinationArn",
      "",
    ),
    keyPolicyWith("kms-key-policy-no-wildcard-principal", "every account's root (arn:aws:iam::*:root)", {
      Effect: "Allow",
      Principal: { AWS: "arn:aws:iam::*:root" },
      Action: "kms:Decrypt",
    }),
    keyPolicyWith("kms-key-policy-no-wildcard-principal", '"*" hidden in a list of principals', {
      Effect: "Allow",
      Principal: { AWS: [`arn:aws:iam::${ACCOUNT}:root`, "*"] },
      Action: "kms:Decrypt",
    }),
    policyWith("iam-no-wildcard-actions", "*:* (service wildcard)", {
      Effect: "Allow",
      Action: "*:*",
      Resource: ARN.orders,
    }),
    field(
      "iam-no-allow-not-action",
      "NotAction in a role's inline policy",
      "process-payment-role",
      "inlinePolicies",
      [{ name: "inline", policy: doc({ Effect: "Allow", NotAction: "iam:*", Resource: "*" }) }],
    ),
    field(
      "iam-trust-policy-single-service",
      "a wildcard action in the trust policy",
      "process-payment-role",
      "assumeRolePolicy",
      doc({ Effect: "Allow", Principal: { Service: "lambda.amazonaws.com" }, Action: "sts:*" }),
    ),
    field(
      "iam-trust-policy-single-service",
      "NotAction in the trust policy",
      "process-payment-role",
      "assumeRolePolicy",
      doc({ Effect: "Allow", Principal: { Service: "lambda.amazonaws.com" }, NotAction: "sts:TagSession" }),
    ),
    policyWith("iam-no-passrole-on-wildcard", "PassRole on a name prefix", {
      Effect: "Allow",
      Action: "iam:PassRole",
      Resource: `arn:aws:iam::${ACCOUNT}:role/orderflow-*`,
    }),
    {
      rule: "lambda-role-not-shared",
      title: "two functions on one role from outside the stack",
      bad: add(
        ownFn("a", `arn:aws:iam::${ACCOUNT}:role/shared`),
        ownFn("b", `arn:aws:iam::${ACCOUNT}:role/shared`),
      ),
    },
    field("lambda-supported-runtime", "python3.9", "process-payment", "runtime", "python3.9"),
    field("lambda-tracing-active", "an empty tracingConfig", "process-payment", "tracingConfig", {}),
    field("lambda-environment-cmk-encrypted", "an empty kmsKeyArn", "process-payment", "kmsKeyArn", ""),
    field(
      "lambda-explicit-role",
      "its role carries AmazonSQSFullAccess",
      "process-payment-role",
      "managedPolicyArns",
      ["arn:aws:iam::aws:policy/AmazonSQSFullAccess"],
      "process-payment",
    ),
    permission(
      "resource-policy-service-source-condition",
      "Lambda permission with an empty sourceArn",
      "sourceArn",
      "",
    ),
    field(
      "apigateway-method-requires-api-key",
      "apiKeyRequired left unset",
      "orders-post",
      "apiKeyRequired",
      undefined,
    ),
    {
      ...field(
        "apigateway-method-requires-api-key",
        "ANY without an API key",
        "orders-post",
        "apiKeyRequired",
        false,
      ),
      bad: (stack) =>
        changed(stack, "orders-post", (p) => {
          p.httpMethod = "ANY";
          p.apiKeyRequired = false;
        }),
    },
    field(
      "apigateway-method-has-request-validator",
      "an empty validator id",
      "orders-post",
      "requestValidatorId",
      "",
    ),
    {
      ...field(
        "apigateway-method-has-request-validator",
        "GET without a validator",
        "orders-post",
        "requestValidatorId",
        undefined,
      ),
      bad: (stack) =>
        changed(stack, "orders-post", (p) => {
          p.httpMethod = "GET";
          delete p.requestValidatorId;
        }),
    },
    field(
      "apigateway-stage-xray-tracing",
      "X-Ray left unset",
      "orders-stage",
      "xrayTracingEnabled",
      undefined,
    ),
    field("apigateway-stage-xray-tracing", "X-Ray as a string", "orders-stage", "xrayTracingEnabled", "true"),
    added(
      "apigateway-no-data-trace",
      "data trace on one method only",
      extra(T.methodSettings, "orders-post-settings", {
        restApi: "abc123",
        stageName: "v1",
        methodPath: "orders/POST",
        settings: { loggingLevel: "INFO", dataTraceEnabled: true },
      }),
    ),
    field("apigateway-no-data-trace", "data trace with INFO logging", "orders-stage-settings", "settings", {
      loggingLevel: "INFO",
      dataTraceEnabled: true,
    }),
    {
      rule: "apigateway-usage-plan-exists",
      title: "no usage plan at all",
      bad: (stack) => stack.filter((r) => r.name !== "orders-plan"),
      urn: urnOf(T.stage, "orders-stage"),
    },
    {
      rule: "apigateway-usage-plan-exists",
      title: "a plan for the same stage name on another API",
      bad: (stack) =>
        changed(stack, "orders-plan", (p) => {
          p.apiStages = [{ apiId: "other-api", stage: "v1" }];
        }).map((r) => (r.name === "orders-plan" ? { ...r, propertyDependencies: {} } : r)),
      urn: urnOf(T.stage, "orders-stage"),
    },
    field(
      "sfn-logging-enabled",
      "level ALL without a destination",
      "order-workflow",
      "loggingConfiguration",
      { level: "ALL", includeExecutionData: false },
    ),
    field(
      "sfn-tracing-enabled",
      "no tracingConfiguration",
      "order-workflow",
      "tracingConfiguration",
      undefined,
    ),
    field(
      "sfn-tracing-enabled",
      "an empty tracingConfiguration",
      "order-workflow",
      "tracingConfiguration",
      {},
    ),
    field(
      "cloudwatch-log-group-kms-encrypted",
      "an AWS-managed alias",
      "process-payment-logs",
      "kmsKeyId",
      "alias/aws/logs",
    ),
    field("cloudwatch-log-group-kms-encrypted", "an empty key id", "orders-api-access-logs", "kmsKeyId", ""),
    field(
      "cloudwatch-log-group-retention",
      "retention null",
      "process-payment-logs",
      "retentionInDays",
      null,
    ),
  ];
}

/**
 * Scanner parity (docs/policy-pack.md, coverage table): for each rule, the broadest inputs a
 * hurried engineer or an attacker would write that must still be blocked.
 */
function PARITY_CASES(): BadCase[] {
  const sendFromTopic = { Principal: { Service: "sns.amazonaws.com" }, Action: "sqs:SendMessage" };
  return [
    // resource-policy-no-public-access
    queuePolicyWith("resource-policy-no-public-access", 'queue policy for "*"', {
      Effect: "Allow",
      Principal: "*",
      Action: "sqs:SendMessage",
    }),
    topicPolicyWith("resource-policy-no-public-access", "topic policy for AWS: * behind ...IfExists", {
      Effect: "Allow",
      Principal: { AWS: "*" },
      Action: "sns:Publish",
      Condition: { StringEqualsIfExists: { "aws:SourceAccount": ACCOUNT } },
    }),
    keyPolicyWith("resource-policy-no-public-access", "key policy for every account's root", {
      Effect: "Allow",
      Principal: { AWS: "arn:aws:iam::*:root" },
      Action: "kms:Decrypt",
    }),
    queuePolicyWith("resource-policy-no-public-access", '"*" restricted by a wildcard source ARN', {
      Effect: "Allow",
      Principal: "*",
      Action: "sqs:SendMessage",
      Condition: { ArnLike: { "aws:SourceArn": "arn:aws:sns:*:*:*" } },
    }),
    queuePolicyWith("resource-policy-no-public-access", "NotPrincipal allow", {
      Effect: "Allow",
      NotPrincipal: { AWS: ARN.consumerRole },
      Action: "sqs:SendMessage",
    }),
    added(
      "resource-policy-no-public-access",
      "Lambda permission for * without a source",
      extra(T.permission, "public-invoke", {
        action: "lambda:InvokeFunction",
        function: "process-payment",
        principal: "*",
      }),
    ),
    field(
      "resource-policy-no-public-access",
      "an inline queue policy given as an object, one Statement object",
      "payments",
      "policy",
      {
        Version: "2012-10-17",
        Statement: { Effect: "Allow", Principal: "*", Action: "sqs:*", Resource: ARN.queue },
      },
    ),
    // resource-policy-no-foreign-accounts
    queuePolicyWith("resource-policy-no-foreign-accounts", "another account's root", {
      Effect: "Allow",
      Principal: { AWS: `arn:aws:iam::${FOREIGN}:root` },
      Action: "sqs:SendMessage",
    }),
    keyPolicyWith("resource-policy-no-foreign-accounts", "a bare foreign account id", {
      Effect: "Allow",
      Principal: { AWS: FOREIGN },
      Action: "kms:Decrypt",
    }),
    permission(
      "resource-policy-no-foreign-accounts",
      "Lambda permission for another account",
      "principal",
      FOREIGN,
    ),
    topicPolicyWith("resource-policy-no-foreign-accounts", "a federated principal", {
      Effect: "Allow",
      Principal: { Federated: "cognito-identity.amazonaws.com" },
      Action: "sns:Publish",
    }),
    queuePolicyWith("resource-policy-no-foreign-accounts", "another account, its ARN also as Resource", {
      Effect: "Allow",
      Principal: { AWS: `arn:aws:iam::${FOREIGN}:role/reader` },
      Action: "sqs:ReceiveMessage",
      Resource: `arn:aws:sqs:us-east-1:${FOREIGN}:payments`,
    }),
    // resource-policy-service-source-condition
    queuePolicyWith("resource-policy-service-source-condition", "SNS may send, from any topic", {
      Effect: "Allow",
      ...sendFromTopic,
    }),
    queuePolicyWith("resource-policy-service-source-condition", "aws:SourceAccount is *", {
      Effect: "Allow",
      ...sendFromTopic,
      Condition: { StringLike: { "aws:SourceAccount": "*" } },
    }),
    queuePolicyWith("resource-policy-service-source-condition", "a negated source condition", {
      Effect: "Allow",
      ...sendFromTopic,
      Condition: { ArnNotEquals: { "aws:SourceArn": ARN.topic } },
    }),
    permission(
      "resource-policy-service-source-condition",
      "Lambda permission for API Gateway without a source",
      "sourceArn",
      undefined,
    ),
    // resource-policy-least-privilege-actions
    queuePolicyWith("resource-policy-least-privilege-actions", "sqs:* to the consumer role", {
      Effect: "Allow",
      Principal: { AWS: ARN.consumerRole },
      Action: "sqs:*",
    }),
    queuePolicyWith("resource-policy-least-privilege-actions", "*:* to the consumer role", {
      Effect: "Allow",
      Principal: { AWS: ARN.consumerRole },
      Action: ["*:*"],
    }),
    topicPolicyWith("resource-policy-least-privilege-actions", "NotAction to the alarms", {
      Effect: "Allow",
      Principal: { Service: "cloudwatch.amazonaws.com" },
      NotAction: "sns:DeleteTopic",
      Condition: { StringEquals: { "aws:SourceAccount": ACCOUNT } },
    }),
    queuePolicyWith("resource-policy-least-privilege-actions", "sqs:AddPermission to a role", {
      Effect: "Allow",
      Principal: { AWS: ARN.consumerRole },
      Action: ["sqs:ReceiveMessage", "sqs:AddPermission"],
    }),
    permission(
      "resource-policy-least-privilege-actions",
      "Lambda permission for lambda:*",
      "action",
      "lambda:*",
    ),
    // An EventBridge action is right on an EventBridge permission only, not on a Lambda one.
    permission(
      "resource-policy-least-privilege-actions",
      "Lambda permission for events:PutEvents",
      "action",
      "events:PutEvents",
    ),
    // lambda-permission-source-arn-scoped
    permission(
      "lambda-permission-source-arn-scoped",
      "any API of the account",
      "sourceArn",
      `arn:aws:execute-api:us-east-1:${ACCOUNT}:*/*/*`,
    ),
    permission(
      "lambda-permission-source-arn-scoped",
      "the API id in any region and account",
      "sourceArn",
      "arn:aws:execute-api:*:*:abc123/*/*",
    ),
    permission(
      "lambda-permission-source-arn-scoped",
      "every EventBridge rule",
      "sourceArn",
      `arn:aws:events:us-east-1:${ACCOUNT}:rule/*`,
    ),
    // iam-no-broad-action-patterns
    policyWith("iam-no-broad-action-patterns", "dynamodb:*Item", {
      Effect: "Allow",
      Action: "dynamodb:*Item",
      Resource: ARN.orders,
    }),
    policyWith("iam-no-broad-action-patterns", "s3:Get* (GetObject)", {
      Effect: "Allow",
      Action: ["s3:Get*"],
      Resource: "arn:aws:s3:::orders-exports/*",
    }),
    policyWith("iam-no-broad-action-patterns", "*:Get* across services", {
      Effect: "Allow",
      Action: "*:Get*",
      Resource: ARN.orders,
    }),
    policyWith("iam-no-broad-action-patterns", "a ? pattern", {
      Effect: "Allow",
      Action: "dynamodb:?utItem",
      Resource: ARN.orders,
    }),
    // iam-resource-no-wildcard-names
    policyWith("iam-resource-no-wildcard-names", "PutItem on table/*", {
      Effect: "Allow",
      Action: "dynamodb:PutItem",
      Resource: mockArn("dynamodb", "table/*"),
    }),
    policyWith("iam-resource-no-wildcard-names", "InvokeFunction on function:*", {
      Effect: "Allow",
      Action: "lambda:InvokeFunction",
      Resource: mockArn("lambda", "function:*"),
    }),
    policyWith("iam-resource-no-wildcard-names", "SendMessage in any region and account", {
      Effect: "Allow",
      Action: "sqs:SendMessage",
      Resource: "arn:aws:sqs:*:*:payments",
    }),
    policyWith("iam-resource-no-wildcard-names", "a name prefix (table/ord*)", {
      Effect: "Allow",
      Action: "dynamodb:GetItem",
      Resource: mockArn("dynamodb", "table/ord*"),
    }),
    policyWith("iam-resource-no-wildcard-names", "every Lambda log group", {
      Effect: "Allow",
      Action: ["logs:PutLogEvents"],
      Resource: mockArn("logs", "log-group:/aws/lambda/*:*"),
    }),
    // iam-no-privilege-escalation
    policyWith("iam-no-privilege-escalation", "PutRolePolicy on its own role", {
      Effect: "Allow",
      Action: "iam:PutRolePolicy",
      Resource: ARN.consumerRole,
    }),
    policyWith("iam-no-privilege-escalation", "iam:Attach* on its own role", {
      Effect: "Allow",
      Action: "iam:Attach*",
      Resource: ARN.consumerRole,
    }),
    policyWith("iam-no-privilege-escalation", "UpdateFunctionCode on itself", {
      Effect: "Allow",
      Action: "lambda:UpdateFunctionCode",
      Resource: ARN.consumer,
    }),
    policyWith("iam-no-privilege-escalation", "sts:AssumeRole of the workflow role", {
      Effect: "Allow",
      Action: "sts:AssumeRole",
      Resource: ARN.sfnRole,
    }),
    policyWith("iam-no-privilege-escalation", "mixed-case Iam:PutRolePolicy", {
      Effect: "Allow",
      Action: ["Iam:putRolePolicy"],
      Resource: ARN.consumerRole,
    }),
    // iam-no-credentials-exposure
    policyWith("iam-no-credentials-exposure", "CreateAccessKey", {
      Effect: "Allow",
      Action: "iam:CreateAccessKey",
      Resource: `arn:aws:iam::${ACCOUNT}:user/deployer`,
    }),
    policyWith("iam-no-credentials-exposure", "sts:Get* (session and federation tokens)", {
      Effect: "Allow",
      Action: "sts:Get*",
      Resource: "*",
    }),
    policyWith("iam-no-credentials-exposure", "redshift:GetClusterCredentials", {
      Effect: "Allow",
      Action: "redshift:GetClusterCredentials",
      Resource: mockArn("redshift", "dbuser:analytics/admin"),
    }),
    // iam-no-permissions-management
    policyWith("iam-no-permissions-management", "sqs:AddPermission on its queue", {
      Effect: "Allow",
      Action: "sqs:AddPermission",
      Resource: ARN.queue,
    }),
    policyWith("iam-no-permissions-management", "kms:CreateGrant on the key", {
      Effect: "Allow",
      Action: ["kms:Decrypt", "kms:CreateGrant"],
      Resource: ARN.key,
    }),
    policyWith("iam-no-permissions-management", "kms:Put* (PutKeyPolicy)", {
      Effect: "Allow",
      Action: "kms:Put*",
      Resource: ARN.key,
    }),
    policyWith("iam-no-permissions-management", "lambda:AddPermission on itself", {
      Effect: "Allow",
      Action: "lambda:AddPermission",
      Resource: ARN.consumer,
    }),
    field(
      "iam-no-permissions-management",
      "a policy given as an object",
      "process-payment-policy",
      "policy",
      {
        Version: "2012-10-17",
        Statement: [{ Effect: "Allow", Action: "kms:PutKeyPolicy", Resource: ARN.key }],
      },
    ),
    // lambda-role-writes-own-resources
    policyWith(
      "lambda-role-writes-own-resources",
      "PutItem on another table",
      {
        Effect: "Allow",
        Action: "dynamodb:PutItem",
        Resource: mockArn("dynamodb", "table/customers"),
      },
      "process-payment",
    ),
    policyWith(
      "lambda-role-writes-own-resources",
      "SendMessage to the DLQ it does not use",
      {
        Effect: "Allow",
        Action: "sqs:SendMessage",
        Resource: ARN.dlq,
      },
      "process-payment",
    ),
    policyWith(
      "lambda-role-writes-own-resources",
      "invoking another function",
      {
        Effect: "Allow",
        Action: "lambda:InvokeFunction",
        Resource: ARN.notify,
      },
      "process-payment",
    ),
    policyWith(
      "lambda-role-writes-own-resources",
      "PutItem on a table named like its queue",
      {
        Effect: "Allow",
        Action: "dynamodb:PutItem",
        Resource: mockArn("dynamodb", "table/payments"),
      },
      "process-payment",
    ),
    policyWith(
      "lambda-role-writes-own-resources",
      "*:* (every action, so writes) on another table",
      {
        Effect: "Allow",
        Action: "*:*",
        Resource: mockArn("dynamodb", "table/customers"),
      },
      "process-payment",
    ),
    {
      rule: "lambda-role-writes-own-resources",
      title: "a managed policy of the stack attached to its role, writing another table",
      bad: add(
        extra(T.managedPolicy, "extra-writes", {
          arn: `arn:aws:iam::${ACCOUNT}:policy/extra-writes`,
          policy: doc({
            Effect: "Allow",
            Action: "dynamodb:PutItem",
            Resource: mockArn("dynamodb", "table/customers"),
          }),
        }),
        attachment("extra-writes-attachment", `arn:aws:iam::${ACCOUNT}:policy/extra-writes`),
      ),
      urn: urnOf(T.fn, "process-payment"),
    },
    policyWith(
      "lambda-role-writes-own-resources",
      "decrypting with another key",
      {
        Effect: "Allow",
        Action: "kms:Decrypt",
        Resource: ARN.otherKey,
      },
      "process-payment",
    ),
    // no-plaintext-secrets
    field(
      "no-plaintext-secrets",
      "a Stripe key in the environment",
      "process-payment",
      "environment.variables.STRIPE_SECRET_KEY",
      "sk_live_4eC39HqLyjWDarjtT1zdp7dc",
    ),
    field(
      "no-plaintext-secrets",
      "a password by name",
      "process-payment",
      "environment.variables.dbPassword",
      "hunter2-hunter2",
    ),
    field(
      "no-plaintext-secrets",
      "credentials in a URL under a harmless name",
      "process-payment",
      "environment.variables.DATABASE",
      "postgres://admin:s3cr3t@db.internal:5432/orders",
    ),
    field(
      "no-plaintext-secrets",
      "an AWS access key id",
      "process-payment",
      "environment.variables.UPSTREAM",
      "AKIAIOSFODNN7EXAMPLE",
    ),
    {
      rule: "no-plaintext-secrets",
      title: "a bearer token in the state machine definition",
      bad: (stack) => {
        const def = definition() as { States: Record<string, Record<string, unknown>> };
        const state = def.States.ProcessPayment;
        state.Parameters = {
          ...(state.Parameters as object),
          Headers: { Authorization: "Bearer 9f8e7d6c5b4a39281706f5e4d3c2b1a0" },
        };
        return changed(stack, "order-workflow", (p) => (p.definition = JSON.stringify(def)));
      },
      culprit: { resource: "order-workflow", path: "definition" },
      urn: urnOf(T.stateMachine, "order-workflow"),
    },
    field("no-plaintext-secrets", "an API key as a stage variable", "orders-stage", "variables", {
      partnerApiKey: "9f8e7d6c5b4a3928",
    }),
    added(
      "no-plaintext-secrets",
      "a password in a String SSM parameter",
      extra(T.ssmParameter, "db-password", {
        name: "/orderflow/db-password",
        type: "String",
        value: "hunter2",
      }),
    ),
    // lambda-logs-to-managed-group
    field(
      "lambda-logs-to-managed-group",
      "logging to a group the stack does not manage",
      "process-payment",
      "loggingConfig",
      { logFormat: "JSON", logGroup: "/custom/unmanaged" },
      "process-payment",
    ),
    field(
      "lambda-logs-to-managed-group",
      "renamed function, default group left behind",
      "process-payment",
      "name",
      "process-payment-v2",
      "process-payment",
    ),
    {
      rule: "lambda-logs-to-managed-group",
      title: "its log group removed",
      bad: (stack) => stack.filter((r) => r.name !== "process-payment-logs"),
      urn: urnOf(T.fn, "process-payment"),
    },
    // lambda-function-url-iam-auth
    added(
      "lambda-function-url-iam-auth",
      "a function URL with auth NONE",
      extra(T.functionUrl, "consumer-url", { functionName: ARN.consumer, authorizationType: "NONE" }),
    ),
    added(
      "lambda-function-url-iam-auth",
      "a function URL without authorizationType",
      extra(T.functionUrl, "consumer-url-2", { functionName: ARN.consumer }),
    ),
    added(
      "lambda-function-url-iam-auth",
      "a function URL with a misspelt auth type",
      extra(T.functionUrl, "consumer-url-3", { functionName: ARN.consumer, authorizationType: "aws_iam" }),
    ),
    // lambda-event-source-reports-batch-failures
    field(
      "lambda-event-source-reports-batch-failures",
      "SQS mapping without functionResponseTypes",
      "process-payment-source",
      "functionResponseTypes",
      undefined,
    ),
    field(
      "lambda-event-source-reports-batch-failures",
      "SQS mapping with an empty list",
      "process-payment-source",
      "functionResponseTypes",
      [],
    ),
    added(
      "lambda-event-source-reports-batch-failures",
      "a Kinesis stream mapping",
      extra(T.esm, "stream-source", {
        eventSourceArn: mockArn("kinesis", "stream/orders"),
        functionName: ARN.consumer,
        startingPosition: "LATEST",
      }),
    ),
    // apigateway-stage-execution-logging
    field(
      "apigateway-stage-execution-logging",
      "execution logging OFF",
      "orders-stage-settings",
      "settings.loggingLevel",
      "OFF",
    ),
    {
      rule: "apigateway-stage-execution-logging",
      title: "no method settings for the stage",
      bad: (stack) => stack.filter((r) => r.name !== "orders-stage-settings"),
      urn: urnOf(T.stage, "orders-stage"),
    },
    field(
      "apigateway-stage-execution-logging",
      "logging for one method only",
      "orders-stage-settings",
      "methodPath",
      "orders/POST",
      "orders-stage",
    ),
    // apigateway-cache-encrypted
    field("apigateway-cache-encrypted", "cache not encrypted", "orders-stage-settings", "settings", {
      loggingLevel: "ERROR",
      cachingEnabled: true,
      cacheDataEncrypted: false,
    }),
    field("apigateway-cache-encrypted", "cache encryption left unset", "orders-stage-settings", "settings", {
      loggingLevel: "ERROR",
      cachingEnabled: true,
    }),
    field("apigateway-cache-encrypted", "a stage cache cluster", "orders-stage", "cacheClusterEnabled", true),
    // apigateway-domain-tls-1-2
    added(
      "apigateway-domain-tls-1-2",
      "TLS 1.0 custom domain",
      extra(T.domainName, "api-domain", { domainName: "api.example.com", securityPolicy: "TLS_1_0" }),
    ),
    added(
      "apigateway-domain-tls-1-2",
      "custom domain without a security policy",
      extra(T.domainName, "api-domain-2", { domainName: "api.example.com" }),
    ),
    added(
      "apigateway-domain-tls-1-2",
      "TLS 1.1 in lower case",
      extra(T.domainName, "api-domain-3", { domainName: "api.example.com", securityPolicy: "tls_1_1" }),
    ),
  ];
}
