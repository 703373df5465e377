/**
 * Registered resources shaped like the program's (as program/mocks.ts resolves them), small
 * enough to read: the runtime's own specs use them with fake handlers, so a failure there points
 * at the emulator layer, not at a handler.
 */
import { preflightOriginTemplate } from "../../../components/orderApi";
import { HANDLER_TAG } from "../../../components/handlerTag";
import { CORS_ALLOWED_HEADERS } from "../../../components/routes";
import { ENV } from "../../../functions/shared/settings";
import {
  MOCK_ACCOUNT as ACCOUNT,
  MOCK_REGION as REGION,
  type RegisteredResource,
} from "../../../program/mocks";
import { buildOrderWorkflowDefinition } from "../../../workflow/definition";

const ORIGIN = "http://localhost:3000";
const arn = (service: string, resource: string) => `arn:aws:${service}:${REGION}:${ACCOUNT}:${resource}`;
const fnArn = (name: string) => arn("lambda", `function:${name}`);

export const FIXTURE = {
  apiId: "api-x",
  ordersTable: "orders-t",
  inventoryTable: "inventory-t",
  paymentsTable: "payments-t",
  queue: "payments-q",
  dlq: "payments-dlq",
  topicArn: arn("sns", "notify-t"),
  stateMachineArn: arn("states", "stateMachine:orders-sm"),
  fn: {
    createOrder: "create-order-fn",
    processPayment: "process-payment-fn",
    updateInventory: "update-inventory-fn",
    sendNotification: "send-notification-fn",
    compensateOrder: "compensate-order-fn",
  },
};

function fn(
  handler: keyof typeof FIXTURE.fn,
  environment: Record<string, string>,
  timeout = 10,
): RegisteredResource {
  const name = FIXTURE.fn[handler];
  return {
    type: "aws:lambda/function:Function",
    name: `logical-${name}`,
    inputs: {
      name,
      timeout,
      memorySize: 256,
      environment: { variables: environment },
      tags: { [HANDLER_TAG]: handler },
    },
    state: {
      name,
      arn: fnArn(name),
      invokeArn: `arn:aws:apigateway:${REGION}:lambda:path/2015-03-31/functions/${fnArn(name)}/invocations`,
    },
  };
}

export function fixtureResources(
  opts: { callbackTimeoutSeconds?: number; heartbeatSeconds?: number } = {},
): RegisteredResource[] {
  const f = FIXTURE;
  const queueUrl = `https://sqs.${REGION}.amazonaws.com/${ACCOUNT}/${f.queue}`;
  const env = {
    [ENV.ordersTable]: f.ordersTable,
    [ENV.inventoryTable]: f.inventoryTable,
    [ENV.paymentsTable]: f.paymentsTable,
    [ENV.stateMachineArn]: f.stateMachineArn,
    [ENV.inventoryFunction]: f.fn.updateInventory,
    [ENV.topicArn]: f.topicArn,
    [ENV.allowedOrigins]: ORIGIN,
  };
  const definition = buildOrderWorkflowDefinition({
    queueUrl,
    notifyFunctionArn: fnArn(f.fn.sendNotification),
    compensateFunctionArn: fnArn(f.fn.compensateOrder),
    callbackTimeoutSeconds: opts.callbackTimeoutSeconds ?? 900,
    heartbeatSeconds: opts.heartbeatSeconds ?? 300,
  });
  const table = (name: string, hashKey: string, extra: Record<string, unknown> = {}): RegisteredResource => ({
    type: "aws:dynamodb/table:Table",
    name: `logical-${name}`,
    inputs: {
      name,
      hashKey,
      attributes: [{ name: hashKey, type: "S" }],
      billingMode: "PAY_PER_REQUEST",
      ...extra,
    },
    state: { name, arn: arn("dynamodb", `table/${name}`) },
  });
  const method = (
    id: string,
    resourceId: string,
    httpMethod: string,
    extra: Record<string, unknown> = {},
  ): RegisteredResource => ({
    type: "aws:apigateway/method:Method",
    name: id,
    inputs: { restApi: f.apiId, resourceId, httpMethod, authorization: "NONE", ...extra },
    state: { id },
  });
  const cors = {
    "gatewayresponse.header.Access-Control-Allow-Origin": `'${ORIGIN}'`,
    "gatewayresponse.header.Vary": "'Origin'",
  };
  return [
    table(f.ordersTable, "orderId", {
      attributes: [
        { name: "orderId", type: "S" },
        { name: "entity", type: "S" },
        { name: "createdAt", type: "S" },
      ],
      globalSecondaryIndexes: [
        { name: "byCreatedAt", hashKey: "entity", rangeKey: "createdAt", projectionType: "ALL" },
      ],
    }),
    table(f.inventoryTable, "sku"),
    table(f.paymentsTable, "orderId", {
      rangeKey: "entry",
      attributes: [
        { name: "orderId", type: "S" },
        { name: "entry", type: "S" },
      ],
    }),
    {
      type: "aws:dynamodb/tableItem:TableItem",
      name: "seed-1",
      inputs: {
        tableName: f.inventoryTable,
        hashKey: "sku",
        item: JSON.stringify({ sku: { S: "SKU-1" }, price: { N: "1000" }, stock: { N: "5" } }),
      },
      state: {},
    },
    {
      type: "aws:sqs/queue:Queue",
      name: "logical-dlq",
      inputs: { messageRetentionSeconds: 1_209_600 },
      state: {
        name: f.dlq,
        arn: arn("sqs", f.dlq),
        url: `https://sqs.${REGION}.amazonaws.com/${ACCOUNT}/${f.dlq}`,
      },
    },
    {
      type: "aws:sqs/queue:Queue",
      name: "logical-q",
      inputs: {
        visibilityTimeoutSeconds: 180,
        messageRetentionSeconds: 345_600,
        redrivePolicy: JSON.stringify({ deadLetterTargetArn: arn("sqs", f.dlq), maxReceiveCount: 3 }),
      },
      state: { name: f.queue, arn: arn("sqs", f.queue), url: queueUrl },
    },
    {
      type: "aws:sns/topic:Topic",
      name: "logical-topic",
      inputs: {},
      state: { name: "notify-t", arn: f.topicArn },
    },
    fn("createOrder", env),
    fn("processPayment", env, 30),
    fn("updateInventory", env),
    fn("sendNotification", env),
    fn("compensateOrder", env, 20),
    {
      type: "aws:lambda/eventSourceMapping:EventSourceMapping",
      name: "trigger",
      inputs: {
        eventSourceArn: arn("sqs", f.queue),
        functionName: fnArn(f.fn.processPayment),
        batchSize: 10,
        functionResponseTypes: ["ReportBatchItemFailures"],
        scalingConfig: { maximumConcurrency: 2 },
      },
      state: {},
    },
    {
      type: "aws:sfn/stateMachine:StateMachine",
      name: "logical-sm",
      inputs: { type: "STANDARD", definition: JSON.stringify(definition) },
      state: { name: "orders-sm", arn: f.stateMachineArn },
    },
    {
      type: "aws:apigateway/restApi:RestApi",
      name: "api",
      inputs: {},
      state: { id: f.apiId, rootResourceId: "root-x" },
    },
    {
      type: "aws:apigateway/resource:Resource",
      name: "orders",
      inputs: { restApi: f.apiId, parentId: "root-x", pathPart: "orders" },
      state: { id: "res-orders" },
    },
    {
      type: "aws:apigateway/resource:Resource",
      name: "order",
      inputs: { restApi: f.apiId, parentId: "res-orders", pathPart: "{orderId}" },
      state: { id: "res-order" },
    },
    {
      type: "aws:apigateway/requestValidator:RequestValidator",
      name: "validator",
      inputs: { validateRequestBody: true },
      state: { id: "val-1" },
    },
    {
      type: "aws:apigateway/model:Model",
      name: "model",
      inputs: {
        name: "Ping",
        contentType: "application/json",
        schema: JSON.stringify({
          $schema: "http://json-schema.org/draft-04/schema#",
          type: "object",
          properties: { amount: { type: "integer", minimum: 1, maximum: 4 } },
          required: ["amount"],
          additionalProperties: false,
        }),
      },
      state: { name: "Ping" },
    },
    method("m-post", "res-orders", "POST", {
      apiKeyRequired: true,
      requestValidatorId: "val-1",
      requestModels: { "application/json": "Ping" },
    }),
    {
      type: "aws:apigateway/integration:Integration",
      name: "i-post",
      inputs: {
        resourceId: "res-orders",
        httpMethod: "POST",
        type: "AWS_PROXY",
        uri: `arn:aws:apigateway:${REGION}:lambda:path/2015-03-31/functions/${fnArn(f.fn.createOrder)}/invocations`,
      },
      state: {},
    },
    method("m-options", "res-orders", "OPTIONS", { apiKeyRequired: false }),
    {
      type: "aws:apigateway/integration:Integration",
      name: "i-options",
      inputs: { resourceId: "res-orders", httpMethod: "OPTIONS", type: "MOCK" },
      state: {},
    },
    {
      type: "aws:apigateway/integrationResponse:IntegrationResponse",
      name: "ir-options",
      inputs: {
        resourceId: "res-orders",
        httpMethod: "OPTIONS",
        statusCode: "204",
        responseParameters: {
          "method.response.header.Access-Control-Allow-Methods": "'GET,POST,OPTIONS'",
          "method.response.header.Access-Control-Allow-Headers": `'${CORS_ALLOWED_HEADERS.join(",")}'`,
        },
        responseTemplates: { "application/json": preflightOriginTemplate([ORIGIN]) },
      },
      state: {},
    },
    {
      type: "aws:apigateway/response:Response",
      name: "r-4xx",
      inputs: {
        responseType: "DEFAULT_4XX",
        responseParameters: cors,
        responseTemplates: { "application/json": '{"message":$context.error.messageString}' },
      },
      state: {},
    },
    {
      type: "aws:apigateway/response:Response",
      name: "r-body",
      inputs: {
        responseType: "BAD_REQUEST_BODY",
        statusCode: "400",
        responseParameters: cors,
        responseTemplates: {
          "application/json":
            '{"error":"ValidationError","message":$context.error.validationErrorString,"issues":[]}',
        },
      },
      state: {},
    },
    {
      type: "aws:apigateway/apiKey:ApiKey",
      name: "key",
      inputs: { enabled: true },
      state: { value: "fixture-key" },
    },
    {
      type: "aws:apigateway/usagePlan:UsagePlan",
      name: "plan",
      inputs: { throttleSettings: { rateLimit: 5, burstLimit: 3 } },
      state: {},
    },
  ];
}
