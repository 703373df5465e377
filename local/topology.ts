/**
 * The offline system's shape, read from the resources the Pulumi program registers (run under
 * mocks, see ./source.ts). Every local table, queue, function, mapping, state machine and API
 * route comes from a registered resource's inputs, so `npm start` runs what `pulumi up` deploys.
 *
 * Pure functions of `RegisteredResource[]`: unit-tested with fixtures in test/e2e/topology.spec.ts.
 */
import { ENV } from "../functions/shared/settings";
import { HANDLER_TAG } from "../components/handlerTag";
import type { RegisteredResource } from "../program/mocks";
import type { StateMachineDefinition } from "../workflow/definition";
import { arnPartition, parseTaskResource } from "../workflow/resources";

/**
 * program/mocks loads @pulumi/pulumi (about 4 s of a loaded machine's start-up): only reading a
 * captured program needs it, so a system started from a given topology (a restart) skips it.
 */
// eslint-disable-next-line @typescript-eslint/no-require-imports
const mocks = () => require("../program/mocks") as typeof import("../program/mocks");

export interface LocalTable {
  name: string;
  hashKey: string;
  rangeKey?: string;
  attributes: { name: string; type: "S" | "N" | "B" }[];
  globalSecondaryIndexes: {
    name: string;
    hashKey: string;
    rangeKey?: string;
    projectionType: "ALL" | "KEYS_ONLY" | "INCLUDE";
    nonKeyAttributes?: string[];
  }[];
}

export interface LocalQueue {
  name: string;
  arn: string;
  /** The URL the deployed program hands out (state machine definition, env vars). */
  deployedUrl: string;
  visibilityTimeoutSeconds: number;
  messageRetentionSeconds: number;
  redrive?: { deadLetterQueueName: string; maxReceiveCount: number };
}

export interface LocalFunction {
  /** Physical function name (what ARNs and `FunctionName` use). */
  name: string;
  arn: string;
  /** Module in functions/ exporting `<handler>FromEnv`. */
  handler: string;
  environment: Record<string, string>;
  timeoutSeconds: number;
  memorySize: number;
}

export interface LocalEventSourceMapping {
  queueName: string;
  functionName: string;
  batchSize: number;
  reportBatchItemFailures: boolean;
  /** `scalingConfig.maximumConcurrency`; concurrent batches the local poller runs. */
  maximumConcurrency?: number;
}

export interface LocalStateMachine {
  name: string;
  arn: string;
  definition: StateMachineDefinition;
}

export interface LocalTopic {
  name: string;
  arn: string;
}

export type HttpMethod = "GET" | "POST" | "PUT" | "PATCH" | "DELETE" | "OPTIONS" | "HEAD";

export interface LocalRoute {
  /** API Gateway resource path, e.g. `/orders/{orderId}`. */
  resource: string;
  method: HttpMethod;
  apiKeyRequired: boolean;
  /** Validate the body against `bodySchema` (a request validator with validateRequestBody). */
  validateBody: boolean;
  /** JSON Schema (draft-04) of the `application/json` request model, if any. */
  bodySchema?: Record<string, unknown>;
  /** `AWS_PROXY` to this function, or `MOCK` (the CORS preflight API Gateway answers itself). */
  integration: { type: "AWS_PROXY"; functionName: string } | { type: "MOCK"; preflight: Preflight };
}

export interface Preflight {
  statusCode: number;
  /** Static response headers of the MOCK integration response. */
  headers: Record<string, string>;
  /** Origins the response template echoes in Access-Control-Allow-Origin (`*`: any, static). */
  allowedOrigins: string[];
}

/** A header value: a static string, or a request header echoed (`method.request.header.x`). */
export type HeaderMapping = { value: string } | { fromRequestHeader: string };

export interface LocalGatewayResponse {
  statusCode?: number;
  /** `application/json` template, as registered (simple `$context` substitution). */
  template?: string;
  headers: Record<string, HeaderMapping>;
}

export interface LocalApi {
  routes: LocalRoute[];
  /** The usage plan's per-key limits. */
  throttle?: { rateLimit: number; burstLimit: number };
  /** The stage's method throttle: all keys together (the stage-wide MethodSettings). */
  stageThrottle?: { rateLimit: number; burstLimit: number };
  /** `DEFAULT_4XX`, `BAD_REQUEST_BODY`, `MISSING_AUTHENTICATION_TOKEN`, ... */
  gatewayResponses: Record<string, LocalGatewayResponse>;
}

export interface LocalSchedule {
  rule: string;
  expression: string;
  everySeconds: number;
  functionName: string;
}

/** `rate(5 minutes)` -> 300; cron expressions are not run offline (undefined). */
export function rateSeconds(expression: string): number | undefined {
  const m = /^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$/.exec(expression.trim());
  if (!m) return undefined;
  const unit = m[2].startsWith("minute") ? 60 : m[2].startsWith("hour") ? 3600 : 86_400;
  return Number(m[1]) * unit;
}

export interface LocalTopology {
  /** The partition the program registered its resources in (aws, aws-us-gov, aws-cn ...). */
  partition: string;
  region: string;
  accountId: string;
  tables: LocalTable[];
  queues: LocalQueue[];
  functions: LocalFunction[];
  eventSourceMappings: LocalEventSourceMapping[];
  stateMachines: LocalStateMachine[];
  topics: LocalTopic[];
  api: LocalApi;
  /** EventBridge schedule rules that target a function (`rate(...)` only). */
  schedules: LocalSchedule[];
  /** Registered `TableItem`s (the dev catalogue seed), in DynamoDB JSON. */
  seedItems: { tableName: string; item: Record<string, unknown> }[];
}

export class TopologyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "TopologyError";
  }
}

const T = {
  table: "aws:dynamodb/table:Table",
  queue: "aws:sqs/queue:Queue",
  fn: "aws:lambda/function:Function",
  esm: "aws:lambda/eventSourceMapping:EventSourceMapping",
  sfn: "aws:sfn/stateMachine:StateMachine",
  topic: "aws:sns/topic:Topic",
  restApi: "aws:apigateway/restApi:RestApi",
  resource: "aws:apigateway/resource:Resource",
  method: "aws:apigateway/method:Method",
  integration: "aws:apigateway/integration:Integration",
  validator: "aws:apigateway/requestValidator:RequestValidator",
  model: "aws:apigateway/model:Model",
  gatewayResponse: "aws:apigateway/response:Response",
  integrationResponse: "aws:apigateway/integrationResponse:IntegrationResponse",
  tableItem: "aws:dynamodb/tableItem:TableItem",
  eventRule: "aws:cloudwatch/eventRule:EventRule",
  eventTarget: "aws:cloudwatch/eventTarget:EventTarget",
  usagePlan: "aws:apigateway/usagePlan:UsagePlan",
  methodSettings: "aws:apigateway/methodSettings:MethodSettings",
} as const;

type Rec = Record<string, unknown>;

const str = (value: unknown): string | undefined => (typeof value === "string" ? value : undefined);
const num = (value: unknown): number | undefined => {
  if (typeof value === "number") return value;
  if (typeof value === "string" && value.trim() !== "" && Number.isFinite(Number(value)))
    return Number(value);
  return undefined;
};
const rec = (value: unknown): Rec =>
  value && typeof value === "object" && !Array.isArray(value) ? (value as Rec) : {};
const arr = (value: unknown): unknown[] => (Array.isArray(value) ? value : []);

/** Physical name: the registered name input, else what the mocks resolved. */
function physicalName(r: RegisteredResource): string {
  return str(r.inputs.name) ?? str(r.state.name) ?? r.name;
}

/** The last segment of an SQS queue ARN or URL. */
export function queueNameOf(arnOrUrl: string): string {
  return arnOrUrl.split(/[:/]/).pop() ?? arnOrUrl;
}

/** `arn:aws:lambda:r:a:function:name[:qualifier]` or a bare name -> name. */
export function functionNameOf(nameOrArn: string): string {
  const m = /^arn:[^:]+:lambda:[^:]*:[^:]*:function:([^:]+)/.exec(nameOrArn);
  return m ? m[1] : nameOrArn;
}

/** Lambda Invoke / API Gateway integration URI -> function name. */
function functionNameFromInvokeUri(uri: string): string | undefined {
  const m = /functions\/(arn:[^/]+)\/invocations/.exec(uri);
  return m ? functionNameOf(m[1]) : undefined;
}

/** What the offline runtime does with a Task state (both the topology check and the adapter use it). */
export type TaskKind = { kind: "callback"; queueUrl: string } | { kind: "lambda"; functionName: string };

/**
 * `sqs:sendMessage.waitForTaskToken` (the callback) and `lambda:invoke` with a `FunctionName`
 * are served offline, in whichever partition the program was captured (a GovCloud or China stack
 * runs offline too); any other Task stops `npm start` (TopologyError).
 */
export function taskKind(stateName: string, state: { Resource?: unknown; Parameters?: unknown }): TaskKind {
  const params = rec(state.Parameters);
  const resource = parseTaskResource(state.Resource);
  if (resource.ok && resource.integration === "callback")
    return { kind: "callback", queueUrl: String(params.QueueUrl) };
  if (resource.ok && resource.integration === "lambdaInvoke" && typeof params.FunctionName === "string")
    return { kind: "lambda", functionName: params.FunctionName };
  const why = resource.ok ? "lambda:invoke without a FunctionName" : resource.reason;
  throw new TopologyError(
    `Task ${stateName} uses ${String(state.Resource)}, which the offline runtime does not serve: ${why}`,
  );
}

export function buildTopology(resources: readonly RegisteredResource[]): LocalTopology {
  const of = (type: string) => resources.filter((r) => r.type === type);

  const tables = of(T.table).map(tableOf);
  const queues = of(T.queue).map(queueOf);
  const functions = of(T.fn).map(functionOf);
  const topics = of(T.topic).map((r) => ({ name: physicalName(r), arn: String(r.state.arn ?? r.state.id) }));

  const findFunction = (ref: string): LocalFunction => {
    const name = functionNameOf(ref);
    const fn = functions.find((f) => f.name === name || f.arn === ref);
    if (!fn) throw new TopologyError(`No registered function named ${ref}`);
    return fn;
  };
  const findQueue = (arnOrUrl: string): LocalQueue => {
    const q = queues.find(
      (x) => x.arn === arnOrUrl || x.deployedUrl === arnOrUrl || x.name === queueNameOf(arnOrUrl),
    );
    if (!q) throw new TopologyError(`No registered queue for ${arnOrUrl}`);
    return q;
  };

  for (const q of queues) {
    if (q.redrive) findQueue(q.redrive.deadLetterQueueName);
  }

  const eventSourceMappings = of(T.esm).map((r): LocalEventSourceMapping => {
    const source = str(r.inputs.eventSourceArn);
    const target = str(r.inputs.functionName);
    if (!source || !target)
      throw new TopologyError(`Event source mapping ${r.name} lacks eventSourceArn or functionName`);
    const types = arr(r.inputs.functionResponseTypes).map(String);
    return {
      queueName: findQueue(source).name,
      functionName: findFunction(target).name,
      // Lambda's default for an SQS source is 10.
      batchSize: num(r.inputs.batchSize) ?? 10,
      reportBatchItemFailures: types.includes("ReportBatchItemFailures"),
      maximumConcurrency: num(rec(r.inputs.scalingConfig).maximumConcurrency),
    };
  });

  const stateMachines = of(T.sfn).map((r): LocalStateMachine => {
    const raw = r.inputs.definition;
    const definition = (typeof raw === "string" ? JSON.parse(raw) : raw) as StateMachineDefinition;
    if (!definition || typeof definition !== "object" || !definition.States) {
      throw new TopologyError(`State machine ${r.name} has no definition`);
    }
    for (const [stateName, state] of Object.entries(definition.States)) {
      if (state.Type !== "Task") continue;
      const task = taskKind(stateName, state);
      if (task.kind === "callback") findQueue(task.queueUrl);
      else findFunction(task.functionName);
    }
    return { name: physicalName(r), arn: String(r.state.arn ?? r.state.id), definition };
  });

  const registeredArn = functions[0]?.arn ?? stateMachines[0]?.arn ?? "";
  const arnParts = registeredArn.split(":");

  return {
    partition: arnPartition(registeredArn) || mockPartition(),
    region: arnParts[3] || mocks().MOCK_REGION,
    accountId: arnParts[4] || mocks().MOCK_ACCOUNT,
    tables,
    queues,
    functions,
    eventSourceMappings,
    stateMachines,
    topics,
    api: apiOf(resources, functions),
    schedules: of(T.eventTarget).flatMap((target): LocalSchedule[] => {
      const rule = of(T.eventRule).find(
        (r) => physicalName(r) === String(target.inputs.rule) || r.state.arn === target.inputs.rule,
      );
      const expression = str(rule?.inputs.scheduleExpression);
      const arnRef = String(target.inputs.arn);
      const fn = functions.find((f) => f.arn === arnRef || f.name === functionNameOf(arnRef));
      const everySeconds = expression ? rateSeconds(expression) : undefined;
      if (!rule || !expression || !fn || everySeconds === undefined) return [];
      return [{ rule: physicalName(rule), expression, everySeconds, functionName: fn.name }];
    }),
    seedItems: of(T.tableItem).map((r) => {
      const tableName = String(r.inputs.tableName);
      if (!tables.some((t) => t.name === tableName))
        throw new TopologyError(`TableItem ${r.name} targets unknown table ${tableName}`);
      const item = r.inputs.item;
      return { tableName, item: rec(typeof item === "string" ? JSON.parse(item) : item) };
    }),
  };
}

function tableOf(r: RegisteredResource): LocalTable {
  const hashKey = str(r.inputs.hashKey);
  if (!hashKey) throw new TopologyError(`Table ${r.name} has no hashKey`);
  const attributes = arr(r.inputs.attributes).map((a) => {
    const x = rec(a);
    return { name: String(x.name), type: String(x.type) as "S" | "N" | "B" };
  });
  return {
    name: physicalName(r),
    hashKey,
    rangeKey: str(r.inputs.rangeKey),
    attributes,
    globalSecondaryIndexes: arr(r.inputs.globalSecondaryIndexes).map((g) => {
      const x = rec(g);
      return {
        name: String(x.name),
        hashKey: String(x.hashKey),
        rangeKey: str(x.rangeKey),
        projectionType: (str(x.projectionType) ?? "ALL") as "ALL" | "KEYS_ONLY" | "INCLUDE",
        nonKeyAttributes: x.nonKeyAttributes ? arr(x.nonKeyAttributes).map(String) : undefined,
      };
    }),
  };
}

function queueOf(r: RegisteredResource): LocalQueue {
  const name = physicalName(r);
  const redriveRaw = r.inputs.redrivePolicy;
  let redrive: LocalQueue["redrive"];
  if (redriveRaw) {
    const policy = rec(typeof redriveRaw === "string" ? JSON.parse(redriveRaw) : redriveRaw);
    const target = str(policy.deadLetterTargetArn);
    const maxReceiveCount = num(policy.maxReceiveCount);
    if (!target || !maxReceiveCount)
      throw new TopologyError(`Queue ${r.name} has an incomplete redrivePolicy`);
    redrive = { deadLetterQueueName: queueNameOf(target), maxReceiveCount };
  }
  return {
    name,
    arn: String(r.state.arn ?? mockArn("sqs", name)),
    deployedUrl: String(r.state.url ?? r.state.id ?? name),
    // SQS defaults: 30 s visibility, 4 days retention.
    visibilityTimeoutSeconds: num(r.inputs.visibilityTimeoutSeconds) ?? 30,
    messageRetentionSeconds: num(r.inputs.messageRetentionSeconds) ?? 345_600,
    redrive,
  };
}

/** The partition of the mocks' region: for a program captured without any ARN. */
const mockPartition = () => mocks().partitionOf(mocks().MOCK_REGION).partition;

/** The ARN the mocks would give a resource that was registered without one. */
function mockArn(service: string, resource: string): string {
  return `arn:${mockPartition()}:${service}:${mocks().MOCK_REGION}:${mocks().MOCK_ACCOUNT}:${resource}`;
}

function functionOf(r: RegisteredResource): LocalFunction {
  const handler = str(rec(r.inputs.tags)[HANDLER_TAG]);
  if (!handler)
    throw new TopologyError(`Function ${r.name} has no ${HANDLER_TAG} tag naming its module in functions/`);
  const variables = rec(rec(r.inputs.environment).variables);
  const name = physicalName(r);
  return {
    name,
    arn: String(r.state.arn ?? mockArn("lambda", `function:${name}`)),
    handler,
    environment: Object.fromEntries(Object.entries(variables).map(([k, v]) => [k, String(v)])),
    // Lambda defaults: 3 s, 128 MB.
    timeoutSeconds: num(r.inputs.timeout) ?? 3,
    memorySize: num(r.inputs.memorySize) ?? 128,
  };
}

/** Parses `<prefix>X: "'value'"` (static) or `"method.request.header.y"` (echo) header mappings. */
function headerMappings(params: Rec, prefix: string): Record<string, HeaderMapping> {
  const out: Record<string, HeaderMapping> = {};
  for (const [key, value] of Object.entries(params)) {
    if (!key.startsWith(prefix) || typeof value !== "string") continue;
    const name = key.slice(prefix.length);
    const literal = /^'(.*)'$/s.exec(value);
    const echo = /^method\.request\.header\.(.+)$/.exec(value);
    if (literal) out[name] = { value: literal[1] };
    else if (echo) out[name] = { fromRequestHeader: echo[1].toLowerCase() };
  }
  return out;
}

function staticHeaders(params: Rec, prefix: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, m] of Object.entries(headerMappings(params, prefix)))
    if ("value" in m) out[name] = m.value;
  return out;
}

/** The preflight's `#set($allowed = ["https://a", ...])` list (see OrderApi's preflightOriginTemplate). */
function templateOrigins(template: string | undefined): string[] {
  const m = /#set\(\$allowed = \[(.*?)\]\)/.exec(template ?? "");
  return m ? [...m[1].matchAll(/"([^"]*)"/g)].map((x) => x[1]) : [];
}

function apiOf(resources: readonly RegisteredResource[], functions: LocalFunction[]): LocalApi {
  const of = (type: string) => resources.filter((r) => r.type === type);
  const idOf = (r: RegisteredResource) => String(r.state.id);

  // Resource tree: id -> full path.
  const paths = new Map<string, string>();
  for (const api of of(T.restApi)) paths.set(String(api.state.rootResourceId ?? ""), "/");
  const pending = of(T.resource);
  for (let guard = 0; pending.length > 0 && guard < 100; guard++) {
    for (let i = pending.length - 1; i >= 0; i--) {
      const r = pending[i];
      const parent = paths.get(String(r.inputs.parentId));
      if (parent === undefined) continue;
      paths.set(idOf(r), `${parent === "/" ? "" : parent}/${String(r.inputs.pathPart)}`);
      pending.splice(i, 1);
    }
  }

  const models = new Map<string, Record<string, unknown>>();
  for (const m of of(T.model)) {
    const schema = m.inputs.schema;
    models.set(
      String(m.inputs.name ?? m.state.name),
      rec(typeof schema === "string" ? JSON.parse(schema) : schema),
    );
  }
  const validators = new Map<string, boolean>();
  for (const v of of(T.validator)) validators.set(idOf(v), v.inputs.validateRequestBody === true);

  const integrations = of(T.integration);
  const routes: LocalRoute[] = of(T.method).map((m) => {
    const resourceId = String(m.inputs.resourceId);
    const resource = paths.get(resourceId);
    if (!resource) throw new TopologyError(`Method ${m.name} is on an unknown API resource ${resourceId}`);
    const method = String(m.inputs.httpMethod).toUpperCase() as HttpMethod;
    if (String(method) === "ANY")
      throw new TopologyError(`Method ${m.name} uses ANY, which the offline API does not serve`);
    const integ = integrations.find(
      (i) =>
        String(i.inputs.resourceId) === resourceId && String(i.inputs.httpMethod).toUpperCase() === method,
    );
    let integration: LocalRoute["integration"];
    if (!integ || String(integ.inputs.type) === "MOCK") {
      const response = of(T.integrationResponse).find(
        (i) =>
          String(i.inputs.resourceId) === resourceId && String(i.inputs.httpMethod).toUpperCase() === method,
      );
      const headers = staticHeaders(rec(response?.inputs.responseParameters), "method.response.header.");
      const template = str(rec(response?.inputs.responseTemplates)["application/json"]);
      integration = {
        type: "MOCK",
        preflight: {
          statusCode: num(response?.inputs.statusCode) ?? 200,
          headers,
          allowedOrigins: headers["Access-Control-Allow-Origin"] === "*" ? ["*"] : templateOrigins(template),
        },
      };
    } else if (String(integ.inputs.type) === "AWS_PROXY") {
      const fnName = functionNameFromInvokeUri(String(integ.inputs.uri));
      const fn = functions.find((f) => f.name === fnName);
      if (!fn)
        throw new TopologyError(
          `Integration ${integ.name} targets unknown function ${String(integ.inputs.uri)}`,
        );
      integration = { type: "AWS_PROXY", functionName: fn.name };
    } else {
      throw new TopologyError(
        `Integration ${integ.name} is of type ${String(integ.inputs.type)}, which the offline API does not serve`,
      );
    }
    const modelName = str(rec(m.inputs.requestModels)["application/json"]);
    return {
      resource,
      method,
      apiKeyRequired: m.inputs.apiKeyRequired === true,
      validateBody: validators.get(String(m.inputs.requestValidatorId)) === true,
      bodySchema: modelName ? models.get(modelName) : undefined,
      integration,
    };
  });

  const gatewayResponses: Record<string, LocalGatewayResponse> = {};
  for (const g of of(T.gatewayResponse)) {
    gatewayResponses[String(g.inputs.responseType)] = {
      statusCode: num(g.inputs.statusCode),
      template: str(rec(g.inputs.responseTemplates)["application/json"]),
      headers: headerMappings(rec(g.inputs.responseParameters), "gatewayresponse.header."),
    };
  }

  const plan = of(T.usagePlan)[0];
  const throttle = plan ? rec(plan.inputs.throttleSettings) : {};
  const rateLimit = num(throttle.rateLimit);
  const burstLimit = num(throttle.burstLimit);
  const stageSettings = rec(of(T.methodSettings).find((m) => m.inputs.methodPath === "*/*")?.inputs.settings);
  const stageRate = num(stageSettings.throttlingRateLimit);
  const stageBurst = num(stageSettings.throttlingBurstLimit);

  return {
    routes,
    throttle: rateLimit !== undefined && burstLimit !== undefined ? { rateLimit, burstLimit } : undefined,
    stageThrottle:
      stageRate !== undefined && stageBurst !== undefined
        ? { rateLimit: stageRate, burstLimit: stageBurst }
        : undefined,
    gatewayResponses,
  };
}

/** Shorter timings for tests and `--fast`: the same topology, only numbers changed. */
export interface TimingOverrides {
  /** The callback task's TimeoutSeconds. */
  callbackTimeoutSeconds?: number;
  /** The callback task's HeartbeatSeconds. */
  heartbeatSeconds?: number;
  /** Every queue that has a redrive policy (the work queues). */
  visibilityTimeoutSeconds?: number;
  /** Every Retry's IntervalSeconds is capped at this (so compensation retries do not take minutes). */
  maxRetryIntervalSeconds?: number;
}

export function withTimings(topology: LocalTopology, t: TimingOverrides): LocalTopology {
  const stateMachines = topology.stateMachines.map((sm) => {
    const definition = JSON.parse(JSON.stringify(sm.definition)) as StateMachineDefinition;
    for (const [stateName, state] of Object.entries(definition.States)) {
      if (state.Type === "Task" && taskKind(stateName, state).kind === "callback") {
        if (t.callbackTimeoutSeconds !== undefined) state.TimeoutSeconds = t.callbackTimeoutSeconds;
        if (t.heartbeatSeconds !== undefined) state.HeartbeatSeconds = t.heartbeatSeconds;
      }
      if (t.maxRetryIntervalSeconds !== undefined && Array.isArray(state.Retry)) {
        for (const retrier of state.Retry as Rec[]) {
          retrier.IntervalSeconds = Math.min(Number(retrier.IntervalSeconds ?? 1), t.maxRetryIntervalSeconds);
        }
      }
    }
    if (t.callbackTimeoutSeconds !== undefined) {
      definition.TimeoutSeconds = Math.max(definition.TimeoutSeconds ?? 0, t.callbackTimeoutSeconds + 600);
    }
    return { ...sm, definition };
  });
  const queues = topology.queues.map((q) =>
    q.redrive && t.visibilityTimeoutSeconds !== undefined
      ? { ...q, visibilityTimeoutSeconds: t.visibilityTimeoutSeconds }
      : q,
  );
  // The sweeper's threshold is the callback timeout + a margin (index.ts): shortened with it, so
  // an order stuck under --fast is settled in about a minute, not 25. Its schedule runs at least
  // once per callback timeout for the same reason.
  const callback = t.callbackTimeoutSeconds;
  const functions =
    callback === undefined
      ? topology.functions
      : topology.functions.map((fn) =>
          fn.environment[ENV.stuckAfterSeconds] === undefined
            ? fn
            : { ...fn, environment: { ...fn.environment, [ENV.stuckAfterSeconds]: String(2 * callback) } },
        );
  const schedules =
    callback === undefined
      ? topology.schedules
      : topology.schedules.map((sch) => ({ ...sch, everySeconds: Math.min(sch.everySeconds, callback) }));
  return { ...topology, stateMachines, queues, functions, schedules };
}
