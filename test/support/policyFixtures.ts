/**
 * A happy-path stack shaped like orderflow's (props = inputs plus the outputs the engine knows
 * after an update), for policy tests in the style of pulumi-policy-aws's src/tests/util.ts: every
 * bad fixture is this stack with one field changed. Names double as physical names.
 */
import { buildOrderWorkflowDefinition } from "../../workflow/definition";
import {
  invokeFunctionStatement,
  keyUseStatement,
  logDeliveryStatement,
  logWriteStatement,
  policyDocument,
  queueConsumeStatement,
  queueSendStatement,
  serviceTrustPolicy,
  stateMachineTracingStatement,
  tableItemStatement,
  taskCallbackStatement,
  tracingStatement,
} from "../../components/iam";
import { MOCK_ACCOUNT, MOCK_REGION } from "../../program/mocks";
import { TestResource, urnOf } from "./policyHarness";
import { T as PROGRAM_TYPES } from "./program";

const ACCOUNT = MOCK_ACCOUNT;
const REGION = MOCK_REGION;
/** An ARN in the mocks' account and region. */
export const mockArn = (service: string, resource: string) =>
  `arn:aws:${service}:${MOCK_REGION}:${MOCK_ACCOUNT}:${resource}`;
const arn = mockArn;

export const ARN = {
  key: arn("kms", "key/1111aaaa-2222-bbbb-3333-cccc4444dddd"),
  otherKey: arn("kms", "key/9999aaaa-2222-bbbb-3333-cccc4444dddd"),
  orders: arn("dynamodb", "table/orders"),
  queue: arn("sqs", "payments"),
  dlq: arn("sqs", "payments-dlq"),
  queueUrl: `https://sqs.${REGION}.amazonaws.com/${ACCOUNT}/payments`,
  dlqUrl: `https://sqs.${REGION}.amazonaws.com/${ACCOUNT}/payments-dlq`,
  topic: arn("sns", "order-events"),
  consumerRole: `arn:aws:iam::${ACCOUNT}:role/process-payment`,
  sfnRole: `arn:aws:iam::${ACCOUNT}:role/order-workflow`,
  consumer: arn("lambda", "function:process-payment"),
  notify: arn("lambda", "function:send-notification"),
  compensate: arn("lambda", "function:compensate-order"),
  consumerLogs: arn("logs", "log-group:/aws/lambda/process-payment"),
  sfnLogs: arn("logs", "log-group:/aws/vendedlogs/states/order-workflow"),
  apiLogs: arn("logs", "log-group:/aws/apigateway/orders"),
  stateMachine: arn("states", "stateMachine:order-workflow"),
  apiExecution: arn("execute-api", "abc123"),
};

/** Keys that only exist after a resource is created (unknown during a preview). */
export const COMPUTED_KEYS = [
  "arn",
  "id",
  "url",
  "invokeArn",
  "qualifiedArn",
  "executionArn",
  "keyId",
  "rootResourceId",
];

/** A policy document of arbitrary (possibly bad) statements, as JSON. */
const doc = (...Statement: Record<string, unknown>[]) => JSON.stringify({ Version: "2012-10-17", Statement });
/** The program's trust policy for one service (components/iam.ts), as JSON. */
const trust = (service: string) => JSON.stringify(serviceTrustPolicy(service, ACCOUNT));

function res(
  type: string,
  name: string,
  props: Record<string, unknown>,
  propertyDependencies?: Record<string, string[]>,
): TestResource {
  return { type, name, urn: urnOf(type, name), props, propertyDependencies };
}

/** The program's type tokens (./program), plus what only the fixtures use. */
export const T = {
  ...PROGRAM_TYPES,
  attachment: "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
  managedPolicy: "aws:iam/policy:Policy",
  queuePolicy: "aws:sqs/queuePolicy:QueuePolicy",
  topicPolicy: "aws:sns/topicPolicy:TopicPolicy",
  functionUrl: "aws:lambda/functionUrl:FunctionUrl",
  domainName: "aws:apigateway/domainName:DomainName",
  ssmParameter: "aws:ssm/parameter:Parameter",
} as const;

/** The queue's resource policy: the topic may send (from its own ARN), the consumer role may consume. */
export const queuePolicy = () =>
  doc(
    {
      Sid: "TopicSends",
      Effect: "Allow",
      Principal: { Service: "sns.amazonaws.com" },
      Action: "sqs:SendMessage",
      Resource: ARN.queue,
      Condition: { ArnEquals: { "aws:SourceArn": ARN.topic } },
    },
    {
      Sid: "ConsumerReads",
      Effect: "Allow",
      Principal: { AWS: ARN.consumerRole },
      Action: ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"],
      Resource: ARN.queue,
    },
  );

/** The topic's resource policy: CloudWatch alarms of this account may publish. */
export const topicPolicy = () =>
  doc({
    Sid: "Alarms",
    Effect: "Allow",
    Principal: { Service: "cloudwatch.amazonaws.com" },
    Action: "sns:Publish",
    Resource: ARN.topic,
    Condition: { StringEquals: { "aws:SourceAccount": ACCOUNT } },
  });

export const definition = () =>
  buildOrderWorkflowDefinition({
    queueUrl: ARN.queueUrl,
    notifyFunctionArn: ARN.notify,
    compensateFunctionArn: ARN.compensate,
    callbackTimeoutSeconds: 900,
    heartbeatSeconds: 300,
  });

/** The consumer's inline policy: exactly what process_payment calls, on exact ARNs (components/iam.ts builders). */
export const consumerPolicy = () =>
  JSON.stringify(
    policyDocument([
      tableItemStatement("Orders", ARN.orders, ["GetItem", "UpdateItem"]),
      queueConsumeStatement("Queue", ARN.queue),
      keyUseStatement("Key", ARN.key, "decrypt"),
      taskCallbackStatement("Callback"),
      tracingStatement("Tracing"),
      logWriteStatement("Logs", ARN.consumerLogs),
    ]),
  );

/** The state machine's role policy (components/iam.ts builders). */
const workflowPolicy = () =>
  JSON.stringify(
    policyDocument([
      queueSendStatement("Queue", ARN.queue),
      keyUseStatement("Key", ARN.key, "encrypt"),
      invokeFunctionStatement("Invoke", [ARN.notify, ARN.compensate]),
      logDeliveryStatement("LogDelivery"),
      stateMachineTracingStatement("Tracing"),
    ]),
  );

export function goodStack(): TestResource[] {
  const u = (type: string, name: string) => urnOf(type, name);
  return [
    res(T.key, "cmk", {
      arn: ARN.key,
      id: "1111aaaa-2222-bbbb-3333-cccc4444dddd",
      enableKeyRotation: true,
      policy: doc(
        {
          Sid: "Account",
          Effect: "Allow",
          Principal: { AWS: `arn:aws:iam::${ACCOUNT}:root` },
          Action: "kms:*",
          Resource: "*",
        },
        {
          Sid: "Logs",
          Effect: "Allow",
          Principal: { Service: `logs.${REGION}.amazonaws.com` },
          Action: ["kms:Encrypt*", "kms:Decrypt*", "kms:GenerateDataKey*"],
          Resource: "*",
          Condition: { ArnLike: { "kms:EncryptionContext:aws:logs:arn": arn("logs", "*") } },
        },
      ),
    }),
    res(
      T.table,
      "orders",
      {
        arn: ARN.orders,
        id: "orders",
        name: "orders",
        billingMode: "PAY_PER_REQUEST",
        hashKey: "orderId",
        attributes: [{ name: "orderId", type: "S" }],
        serverSideEncryption: { enabled: true, kmsKeyArn: ARN.key },
        pointInTimeRecovery: { enabled: true },
      },
      { serverSideEncryption: [u(T.key, "cmk")] },
    ),
    res(
      T.queue,
      "payments-dlq",
      {
        arn: ARN.dlq,
        id: ARN.dlqUrl,
        url: ARN.dlqUrl,
        name: "payments-dlq",
        kmsMasterKeyId: ARN.key,
        messageRetentionSeconds: 1209600,
      },
      { kmsMasterKeyId: [u(T.key, "cmk")] },
    ),
    res(
      T.queue,
      "payments",
      {
        arn: ARN.queue,
        id: ARN.queueUrl,
        url: ARN.queueUrl,
        name: "payments",
        kmsMasterKeyId: ARN.key,
        visibilityTimeoutSeconds: 180,
        messageRetentionSeconds: 345600,
        redrivePolicy: JSON.stringify({ deadLetterTargetArn: ARN.dlq, maxReceiveCount: 5 }),
      },
      { kmsMasterKeyId: [u(T.key, "cmk")], redrivePolicy: [u(T.queue, "payments-dlq")] },
    ),
    res(
      T.queuePolicy,
      "payments-policy",
      { queueUrl: ARN.queueUrl, policy: queuePolicy() },
      { queueUrl: [u(T.queue, "payments")] },
    ),
    res(
      T.topicPolicy,
      "order-events-policy",
      { arn: ARN.topic, policy: topicPolicy() },
      { arn: [u(T.topic, "order-events")] },
    ),
    res(
      T.topic,
      "order-events",
      { arn: ARN.topic, id: ARN.topic, kmsMasterKeyId: ARN.key },
      { kmsMasterKeyId: [u(T.key, "cmk")] },
    ),
    res(
      T.logGroup,
      "process-payment-logs",
      {
        arn: ARN.consumerLogs,
        name: "/aws/lambda/process-payment",
        kmsKeyId: ARN.key,
        retentionInDays: 30,
      },
      { kmsKeyId: [u(T.key, "cmk")] },
    ),
    res(T.role, "process-payment-role", {
      arn: ARN.consumerRole,
      id: "process-payment",
      name: "process-payment",
      assumeRolePolicy: trust("lambda.amazonaws.com"),
    }),
    res(
      T.rolePolicy,
      "process-payment-policy",
      { role: "process-payment", policy: consumerPolicy() },
      {
        role: [u(T.role, "process-payment-role")],
        policy: [
          u(T.table, "orders"),
          u(T.queue, "payments"),
          u(T.key, "cmk"),
          u(T.logGroup, "process-payment-logs"),
        ],
      },
    ),
    res(
      T.fn,
      "process-payment",
      {
        arn: ARN.consumer,
        id: "process-payment",
        name: "process-payment",
        runtime: "nodejs22.x",
        handler: "__index.handler",
        role: ARN.consumerRole,
        timeout: 30,
        memorySize: 256,
        tracingConfig: { mode: "Active" },
        kmsKeyArn: ARN.key,
        environment: { variables: { ORDERS_TABLE: "orders" } },
      },
      {
        role: [u(T.role, "process-payment-role")],
        kmsKeyArn: [u(T.key, "cmk")],
        environment: [u(T.table, "orders")],
      },
    ),
    res(
      T.esm,
      "process-payment-source",
      {
        id: "esm-1",
        eventSourceArn: ARN.queue,
        functionName: ARN.consumer,
        batchSize: 10,
        functionResponseTypes: ["ReportBatchItemFailures"],
      },
      { eventSourceArn: [u(T.queue, "payments")], functionName: [u(T.fn, "process-payment")] },
    ),
    res(T.permission, "process-payment-invoke", {
      action: "lambda:InvokeFunction",
      function: "process-payment",
      principal: "apigateway.amazonaws.com",
      sourceArn: `${ARN.apiExecution}/*/*`,
    }),
    res(T.restApi, "orders-api", {
      id: "abc123",
      rootResourceId: "root1",
      executionArn: ARN.apiExecution,
      name: "orders",
    }),
    res(T.method, "orders-post", {
      restApi: "abc123",
      resourceId: "res1",
      httpMethod: "POST",
      authorization: "NONE",
      apiKeyRequired: true,
      requestValidatorId: "val1",
    }),
    res(T.method, "orders-options", {
      restApi: "abc123",
      resourceId: "res1",
      httpMethod: "OPTIONS",
      authorization: "NONE",
    }),
    res(T.logGroup, "orders-api-access-logs", {
      arn: ARN.apiLogs,
      name: "/aws/apigateway/orders",
      kmsKeyId: ARN.key,
      retentionInDays: 30,
    }),
    res(
      T.stage,
      "orders-stage",
      {
        restApi: "abc123",
        stageName: "v1",
        deployment: "dep1",
        xrayTracingEnabled: true,
        accessLogSettings: { destinationArn: ARN.apiLogs, format: '{"requestId":"$context.requestId"}' },
      },
      { restApi: [u(T.restApi, "orders-api")] },
    ),
    res(T.methodSettings, "orders-stage-settings", {
      restApi: "abc123",
      stageName: "v1",
      methodPath: "*/*",
      settings: { metricsEnabled: true, loggingLevel: "ERROR", dataTraceEnabled: false },
    }),
    res(
      T.usagePlan,
      "orders-plan",
      {
        apiStages: [{ apiId: "abc123", stage: "v1" }],
        throttleSettings: { burstLimit: 20, rateLimit: 10 },
      },
      { apiStages: [u(T.restApi, "orders-api"), u(T.stage, "orders-stage")] },
    ),
    res(T.logGroup, "order-workflow-logs", {
      arn: ARN.sfnLogs,
      name: "/aws/vendedlogs/states/order-workflow",
      kmsKeyId: ARN.key,
      retentionInDays: 30,
    }),
    res(T.role, "order-workflow-role", {
      arn: ARN.sfnRole,
      id: "order-workflow",
      name: "order-workflow",
      assumeRolePolicy: trust("states.amazonaws.com"),
    }),
    res(
      T.rolePolicy,
      "order-workflow-policy",
      {
        role: "order-workflow",
        policy: workflowPolicy(),
      },
      { role: [u(T.role, "order-workflow-role")] },
    ),
    res(
      T.stateMachine,
      "order-workflow",
      {
        arn: ARN.stateMachine,
        id: ARN.stateMachine,
        roleArn: ARN.sfnRole,
        type: "STANDARD",
        definition: JSON.stringify(definition()),
        loggingConfiguration: {
          level: "ERROR",
          includeExecutionData: false,
          logDestination: `${ARN.sfnLogs}:*`,
        },
        tracingConfiguration: { enabled: true },
      },
      {
        roleArn: [u(T.role, "order-workflow-role")],
        loggingConfiguration: [u(T.logGroup, "order-workflow-logs")],
      },
    ),
  ];
}

/** `stack` with the props of resource `name` changed in place by `change` (on a deep copy); throws if there is none. */
export function changed(
  stack: TestResource[],
  name: string,
  change: (props: Record<string, unknown>) => void,
): TestResource[] {
  let found = false;
  const out = stack.map((r) => {
    if (r.name !== name) return r;
    found = true;
    const props = structuredClone(r.props);
    change(props);
    return { ...r, props };
  });
  if (!found) throw new Error(`fixture has no resource named ${name}`);
  return out;
}

export { ACCOUNT, doc, trust };
