import { byType, captureProgram, RegisteredResource } from "../../program/capture";
import { HANDLER_TAG } from "../../components/handlerTag";
import type { PolicyStatement } from "../../components/iam";

export { byType, captureProgram };
export type { RegisteredResource };

/** Every functions/ module the program deploys (each function's `orderflow:handler` tag). */
export const HANDLER_IDS = [
  "createOrder",
  "getOrder",
  "listOrders",
  "processPayment",
  "updateInventory",
  "compensateOrder",
  "sendNotification",
  "sweepOrders",
] as const;
export type HandlerModule = (typeof HANDLER_IDS)[number];

export const T = {
  table: "aws:dynamodb/table:Table",
  tableItem: "aws:dynamodb/tableItem:TableItem",
  key: "aws:kms/key:Key",
  queue: "aws:sqs/queue:Queue",
  redriveAllow: "aws:sqs/redriveAllowPolicy:RedriveAllowPolicy",
  topic: "aws:sns/topic:Topic",
  subscription: "aws:sns/topicSubscription:TopicSubscription",
  fn: "aws:lambda/function:Function",
  permission: "aws:lambda/permission:Permission",
  esm: "aws:lambda/eventSourceMapping:EventSourceMapping",
  role: "aws:iam/role:Role",
  rolePolicy: "aws:iam/rolePolicy:RolePolicy",
  logGroup: "aws:cloudwatch/logGroup:LogGroup",
  stateMachine: "aws:sfn/stateMachine:StateMachine",
  restApi: "aws:apigateway/restApi:RestApi",
  method: "aws:apigateway/method:Method",
  integration: "aws:apigateway/integration:Integration",
  integrationResponse: "aws:apigateway/integrationResponse:IntegrationResponse",
  methodResponse: "aws:apigateway/methodResponse:MethodResponse",
  validator: "aws:apigateway/requestValidator:RequestValidator",
  model: "aws:apigateway/model:Model",
  gatewayResponse: "aws:apigateway/response:Response",
  stage: "aws:apigateway/stage:Stage",
  methodSettings: "aws:apigateway/methodSettings:MethodSettings",
  usagePlan: "aws:apigateway/usagePlan:UsagePlan",
  usagePlanKey: "aws:apigateway/usagePlanKey:UsagePlanKey",
  apiKey: "aws:apigateway/apiKey:ApiKey",
  alarm: "aws:cloudwatch/metricAlarm:MetricAlarm",
  dashboard: "aws:cloudwatch/dashboard:Dashboard",
  eventRule: "aws:cloudwatch/eventRule:EventRule",
  eventTarget: "aws:cloudwatch/eventTarget:EventTarget",
} as const;

export function one(resources: RegisteredResource[], type: string, nameSuffix = ""): RegisteredResource {
  const found = resources.filter((r) => r.type === type && r.name.endsWith(nameSuffix));
  if (found.length !== 1) {
    throw new Error(
      `expected one ${type} named *${nameSuffix}, found ${found.map((r) => r.name).join(", ") || "none"}`,
    );
  }
  return found[0];
}

/** The Lambda function behind a functions/ module, found by its handler tag. */
export function functionFor(resources: RegisteredResource[], handlerId: string): RegisteredResource {
  const found = byType(resources, T.fn).filter(
    (f) => (f.inputs.tags as Record<string, string> | undefined)?.[HANDLER_TAG] === handlerId,
  );
  if (found.length !== 1) throw new Error(`expected one function for ${handlerId}, found ${found.length}`);
  return found[0];
}

/** The statements of the inline policy on a function's role. */
export function statementsFor(resources: RegisteredResource[], fn: RegisteredResource): PolicyStatement[] {
  const role = byType(resources, T.role).find((r) => r.state.arn === fn.inputs.role);
  if (!role) throw new Error(`no role with ARN ${String(fn.inputs.role)}`);
  const policies = byType(resources, T.rolePolicy).filter((p) => p.inputs.role === role.state.id);
  if (policies.length !== 1)
    throw new Error(`expected one inline policy on ${role.name}, found ${policies.length}`);
  return (JSON.parse(String(policies[0].inputs.policy)) as { Statement: PolicyStatement[] }).Statement;
}
