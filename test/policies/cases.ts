/**
 * Bad fixtures: the happy-path stack (../support/policyFixtures.ts) with one thing changed, and
 * the rule that must catch it. `culprit` names the changed value so the unknown-value spec can
 * make exactly that value unknown.
 */
import { setValue, TestResource, urnOf } from "../support/policyHarness";
import {
  ARN,
  changed,
  consumerPolicy,
  definition,
  doc,
  goodStack,
  T,
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
function policyWith(rule: string, title: string, statement: Record<string, unknown>): BadCase {
  const policy = JSON.parse(consumerPolicy()) as { Statement: Record<string, unknown>[] };
  policy.Statement[0] = statement;
  return field(rule, title, "process-payment-policy", "policy", JSON.stringify(policy));
}

/** The workflow definition with the callback state changed. */
function callbackState(title: string, change: (state: Record<string, unknown>) => void): BadCase {
  const def = definition();
  change(def.States.ProcessPayment);
  return field("sfn-callback-tasks-bounded", title, "order-workflow", "definition", JSON.stringify(def));
}

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
    "service principal without sourceArn",
    "process-payment-invoke",
    "sourceArn",
    undefined,
  ),
  field("lambda-permission-source-arn", "public permission", "process-payment-invoke", "principal", "*"),
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
];
