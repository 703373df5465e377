import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from "aws-lambda";
import { createOrderFromEnv } from "../functions/createOrder";
import { getOrderFromEnv } from "../functions/getOrder";
import { listOrdersFromEnv } from "../functions/listOrders";
import { ENV } from "../functions/shared/settings";
import { canonicalJson, sha256Hex } from "../functions/shared/ids";
import { createOrderModelSchema, GATEWAY_RESPONSE_TEMPLATES } from "./apiModel";
import {
  keyUseStatement,
  PolicyStatement,
  startExecutionStatement,
  tableQueryStatement,
  tableItemStatement,
} from "./iam";
import { createOrderFunction } from "./orderFunction";
import {
  CORS_ALLOWED_HEADERS,
  CORS_ALLOWED_METHODS,
  CORS_EXPOSED_HEADERS,
  CORS_MAX_AGE_SECONDS,
  HandlerId,
  Route,
  ROUTES,
} from "./routes";

export interface OrderApiArgs {
  keyArn: pulumi.Input<string>;
  orders: { name: pulumi.Input<string>; arn: pulumi.Input<string> };
  inventory: { name: pulumi.Input<string>; arn: pulumi.Input<string> };
  stateMachineArn: pulumi.Input<string>;
  /** Origins allowed by CORS, or `["*"]`. */
  allowedOrigins: string[];
  /** Per-key steady-state requests per second (the usage plan). */
  rateLimit: number;
  /** Per-key burst (the usage plan). */
  burstLimit: number;
  /**
   * Requests per second the whole stage accepts, all keys together (the stage's method throttle):
   * the API's capacity, at least {@link rateLimit}.
   */
  stageRateLimit: number;
  /** The stage's burst, all keys together; at least {@link burstLimit}. */
  stageBurstLimit: number;
  quotaLimit: number;
  quotaPeriod: "DAY" | "WEEK" | "MONTH";
  logRetentionDays: number;
  /**
   * Own the per-region API Gateway account setting (its CloudWatch role, which access and
   * execution logs need). Exactly one stack per account and region should: the role has a fixed
   * name, so a second owner fails on create naming it, and both are retained when the owning stack
   * is destroyed (other APIs in the region keep logging). See README "API Gateway account setting".
   * @default true
   */
  manageAccountSettings?: boolean;
  /** @default "v1" */
  stageName?: string;
}

type ApiHandlerFactory = () => (event: APIGatewayProxyEvent) => Promise<APIGatewayProxyResult>;

const FACTORIES: Record<HandlerId, ApiHandlerFactory> = {
  createOrder: createOrderFromEnv,
  getOrder: getOrderFromEnv,
  listOrders: listOrdersFromEnv,
};

/**
 * The REST API: POST /orders, GET /orders, GET /orders/{orderId}, every method behind an API key,
 * a usage plan, a request validator with a body model generated from the handler's schema, CORS
 * (preflight and gateway error responses), and a stage with KMS-encrypted access logs and X-Ray.
 */
export class OrderApi extends pulumi.ComponentResource {
  readonly restApi: aws.apigateway.RestApi;
  readonly stage: aws.apigateway.Stage;
  readonly apiKey: aws.apigateway.ApiKey;
  readonly usagePlan: aws.apigateway.UsagePlan;
  /** Base URL of the stage, e.g. https://abc.execute-api.us-east-1.amazonaws.com/v1 */
  readonly url: pulumi.Output<string>;
  readonly functions: Record<HandlerId, aws.lambda.Function>;

  constructor(name: string, args: OrderApiArgs, opts?: pulumi.ComponentResourceOptions) {
    super("orderflow:index:OrderApi", name, {}, opts);
    if (args.allowedOrigins.length === 0)
      throw new Error(`OrderApi ${name}: allowedOrigins must not be empty`);
    if (args.allowedOrigins.includes("*") && args.allowedOrigins.length > 1) {
      throw new Error(`OrderApi ${name}: allowedOrigins cannot combine "*" with named origins`);
    }
    if (args.stageRateLimit < args.rateLimit || args.stageBurstLimit < args.burstLimit) {
      throw new Error(
        `OrderApi ${name}: the stage's limits (${args.stageRateLimit}/s, burst ${args.stageBurstLimit}) must be at least one key's (${args.rateLimit}/s, burst ${args.burstLimit})`,
      );
    }
    const parent = { parent: this };
    const stageName = args.stageName ?? "v1";
    const accountId = aws.getCallerIdentityOutput({}, parent).accountId;
    const region = aws.getRegionOutput({}, parent).region;
    const partition = aws.getPartitionOutput({}, parent).partition;
    const modelSchema = createOrderModelSchema();

    this.restApi = new aws.apigateway.RestApi(
      `${name}-api`,
      this.serve(`${name}-api`, {
        description: `orderflow ${pulumi.getStack()}: orders API`,
        endpointConfiguration: { types: "REGIONAL" },
        apiKeySource: "HEADER",
      }),
      parent,
    );

    const validator = new aws.apigateway.RequestValidator(
      `${name}-validator`,
      this.serve(`${name}-validator`, {
        restApi: this.restApi.id,
        validateRequestBody: true,
        validateRequestParameters: true,
      }),
      parent,
    );
    const model = new aws.apigateway.Model(
      `${name}-create-order-model`,
      this.serve(`${name}-create-order-model`, {
        restApi: this.restApi.id,
        name: "CreateOrder",
        contentType: "application/json",
        schema: JSON.stringify(modelSchema),
      }),
      parent,
    );

    const ordersResource = new aws.apigateway.Resource(
      `${name}-orders`,
      this.serve(`${name}-orders`, {
        restApi: this.restApi.id,
        parentId: this.restApi.rootResourceId,
        pathPart: "orders",
      }),
      parent,
    );
    const orderResource = new aws.apigateway.Resource(
      `${name}-order`,
      this.serve(`${name}-order`, {
        restApi: this.restApi.id,
        parentId: ordersResource.id,
        pathPart: "{orderId}",
      }),
      parent,
    );
    const resources: Record<Route["path"], aws.apigateway.Resource> = {
      "/orders": ordersResource,
      "/orders/{orderId}": orderResource,
    };

    const statementsFor = (handlerId: HandlerId): pulumi.Output<PolicyStatement[]> =>
      pulumi
        .all([args.orders.arn, args.inventory.arn, args.stateMachineArn, args.keyArn])
        .apply(([orders, inventory, stateMachine, key]) => {
          switch (handlerId) {
            case "createOrder":
              return [
                tableItemStatement("Catalogue", inventory, ["BatchGetItem"]),
                tableItemStatement("Orders", orders, ["GetItem", "PutItem"]),
                startExecutionStatement("StartWorkflow", stateMachine),
                keyUseStatement("EncryptedTables", key, "encrypt"),
              ];
            case "getOrder":
              return [
                tableItemStatement("Orders", orders, ["GetItem"]),
                keyUseStatement("EncryptedTable", key, "decrypt"),
              ];
            case "listOrders":
              return [
                tableQueryStatement("OrderIndexes", orders),
                keyUseStatement("EncryptedTable", key, "decrypt"),
              ];
          }
        });

    const environmentFor = (handlerId: HandlerId): Record<string, pulumi.Input<string>> => ({
      [ENV.ordersTable]: args.orders.name,
      [ENV.allowedOrigins]: args.allowedOrigins.join(","),
      ...(handlerId === "createOrder"
        ? { [ENV.inventoryTable]: args.inventory.name, [ENV.stateMachineArn]: args.stateMachineArn }
        : {}),
    });

    const functions: Partial<Record<HandlerId, aws.lambda.Function>> = {};
    const methodParts: pulumi.Resource[] = [model, validator];

    for (const route of ROUTES) {
      const fn = createOrderFunction(
        `${name}-${route.functionName}`,
        {
          handlerId: route.handlerId,
          description: `orderflow: ${route.method} ${route.path}`,
          callbackFactory: FACTORIES[route.handlerId],
          statements: statementsFor(route.handlerId),
          environment: environmentFor(route.handlerId),
          keyArn: args.keyArn,
          accountId,
          logRetentionDays: args.logRetentionDays,
          timeoutSeconds: 10,
          memorySize: 256,
        },
        this,
      ).fn;
      functions[route.handlerId] = fn;

      const resource = resources[route.path];
      const requestParameters: Record<string, boolean> = {
        ...Object.fromEntries(route.query.map((q) => [`method.request.querystring.${q}`, false])),
        ...Object.fromEntries(route.pathParams.map((p) => [`method.request.path.${p}`, true])),
        ...Object.fromEntries(route.headers.map((h) => [`method.request.header.${h}`, false])),
      };
      const method = new aws.apigateway.Method(
        `${name}-${route.functionName}-method`,
        this.serve(`${name}-${route.functionName}-method`, {
          restApi: this.restApi.id,
          resourceId: resource.id,
          httpMethod: route.method,
          authorization: "NONE",
          apiKeyRequired: true,
          requestValidatorId: validator.id,
          requestParameters,
          requestModels: route.validatesBody ? { "application/json": model.name } : undefined,
        }),
        parent,
      );
      const integration = new aws.apigateway.Integration(
        `${name}-${route.functionName}-integration`,
        this.serve(`${name}-${route.functionName}-integration`, {
          restApi: this.restApi.id,
          resourceId: resource.id,
          httpMethod: method.httpMethod,
          type: "AWS_PROXY",
          integrationHttpMethod: "POST",
          uri: fn.invokeArn,
        }),
        parent,
      );
      new aws.lambda.Permission(
        `${name}-${route.functionName}-invoke`,
        {
          action: "lambda:InvokeFunction",
          function: fn.name,
          principal: "apigateway.amazonaws.com",
          // Only this method of this API (any stage) may invoke the function.
          sourceArn: pulumi.interpolate`${this.restApi.executionArn}/*/${route.method}${route.path.replace(/\{[^}]+\}/g, "*")}`,
        },
        parent,
      );
      methodParts.push(method, integration);
    }
    this.functions = functions as Record<HandlerId, aws.lambda.Function>;

    for (const [path, resource] of Object.entries(resources)) {
      methodParts.push(
        ...this.preflight(
          `${name}${path.replace(/[/{}]+/g, "-").replace(/-$/, "")}`,
          resource,
          args.allowedOrigins,
        ),
      );
    }
    methodParts.push(...this.gatewayResponses(name, args.allowedOrigins));

    const deployment = new aws.apigateway.Deployment(
      `${name}-deployment`,
      {
        restApi: this.restApi.id,
        description: "orderflow API deployment",
        // A stage serves a snapshot: redeploy whenever any resolved input of what it serves changes
        // (routes, methods, integrations and their URIs, CORS, model, gateway responses), never
        // on an unrelated change.
        triggers: {
          redeployment: pulumi.output(this.served).apply((parts) => deploymentTrigger(parts)),
        },
      },
      { parent: this, dependsOn: methodParts },
    );

    const accessLogs = new aws.cloudwatch.LogGroup(
      `${name}-access-logs`,
      { retentionInDays: args.logRetentionDays, kmsKeyId: args.keyArn },
      parent,
    );
    // With execution logging on (loggingLevel below), API Gateway creates this group itself: no
    // CMK, no retention, left behind by `pulumi destroy`. Created here first, it is used as is.
    const executionLogs = new aws.cloudwatch.LogGroup(
      `${name}-execution-logs`,
      {
        name: executionLogGroupName(this.restApi.id, stageName),
        retentionInDays: args.logRetentionDays,
        kmsKeyId: args.keyArn,
      },
      parent,
    );

    const account =
      args.manageAccountSettings === false ? undefined : this.accountSettings(name, region, partition);

    this.stage = new aws.apigateway.Stage(
      `${name}-stage`,
      {
        restApi: this.restApi.id,
        deployment: deployment.id,
        stageName,
        xrayTracingEnabled: true,
        accessLogSettings: { destinationArn: accessLogs.arn, format: JSON.stringify(ACCESS_LOG_FORMAT) },
      },
      { parent: this, dependsOn: account ? [account, executionLogs] : [executionLogs] },
    );

    new aws.apigateway.MethodSettings(
      `${name}-method-settings`,
      {
        restApi: this.restApi.id,
        stageName: this.stage.stageName,
        methodPath: "*/*",
        settings: {
          metricsEnabled: true,
          loggingLevel: "ERROR",
          // Full request/response logging would write customer data to CloudWatch.
          dataTraceEnabled: false,
          // The stage's limit is what all clients together get; one key's share is the usage plan's.
          throttlingRateLimit: args.stageRateLimit,
          throttlingBurstLimit: args.stageBurstLimit,
        },
      },
      parent,
    );

    this.apiKey = new aws.apigateway.ApiKey(
      `${name}-key`,
      { description: `orderflow ${pulumi.getStack()}: default client key`, enabled: true },
      parent,
    );
    this.usagePlan = new aws.apigateway.UsagePlan(
      `${name}-usage-plan`,
      {
        description: "orderflow: per-key throttling and quota",
        apiStages: [{ apiId: this.restApi.id, stage: this.stage.stageName }],
        throttleSettings: { rateLimit: args.rateLimit, burstLimit: args.burstLimit },
        quotaSettings: { limit: args.quotaLimit, period: args.quotaPeriod },
      },
      parent,
    );
    new aws.apigateway.UsagePlanKey(
      `${name}-usage-plan-key`,
      { keyId: this.apiKey.id, keyType: "API_KEY", usagePlanId: this.usagePlan.id },
      parent,
    );

    this.url = this.stage.invokeUrl;
    this.registerOutputs({ url: this.url, apiKeyId: this.apiKey.id, restApiId: this.restApi.id });
  }

  /** OPTIONS answered by API Gateway itself (MOCK), echoing the Origin only when it is allowed. */
  private preflight(name: string, resource: aws.apigateway.Resource, origins: string[]): pulumi.Resource[] {
    const parent = { parent: this };
    const method = new aws.apigateway.Method(
      `${name}-options`,
      this.serve(`${name}-options`, {
        restApi: this.restApi.id,
        resourceId: resource.id,
        httpMethod: "OPTIONS",
        authorization: "NONE",
        // Browsers send preflights without custom headers, so no API key here (by design).
        apiKeyRequired: false,
      }),
      parent,
    );
    const integration = new aws.apigateway.Integration(
      `${name}-options-integration`,
      this.serve(`${name}-options-integration`, {
        restApi: this.restApi.id,
        resourceId: resource.id,
        httpMethod: method.httpMethod,
        type: "MOCK",
        requestTemplates: { "application/json": '{"statusCode": 204}' },
      }),
      parent,
    );
    const headers = preflightHeaders(origins);
    const methodResponse = new aws.apigateway.MethodResponse(
      `${name}-options-response`,
      this.serve(`${name}-options-response`, {
        restApi: this.restApi.id,
        resourceId: resource.id,
        httpMethod: method.httpMethod,
        statusCode: "204",
        // Declared even when the VTL template sets it per request (named origins).
        responseParameters: Object.fromEntries(
          [...new Set([...Object.keys(headers), "method.response.header.Access-Control-Allow-Origin"])].map(
            (h) => [h, false],
          ),
        ),
      }),
      parent,
    );
    const integrationResponse = new aws.apigateway.IntegrationResponse(
      `${name}-options-integration-response`,
      this.serve(`${name}-options-integration-response`, {
        restApi: this.restApi.id,
        resourceId: resource.id,
        httpMethod: method.httpMethod,
        statusCode: methodResponse.statusCode,
        responseParameters: headers,
        responseTemplates: { "application/json": preflightOriginTemplate(origins) },
      }),
      { parent: this, dependsOn: [integration] },
    );
    return [method, integration, methodResponse, integrationResponse];
  }

  /** Error responses API Gateway produces itself (bad key, failed validation, throttling) with CORS. */
  private gatewayResponses(name: string, origins: string[]): pulumi.Resource[] {
    const responseParameters = gatewayCorsHeaders(origins);
    const responses: [string, string, string | undefined][] = [
      ["DEFAULT_4XX", GATEWAY_RESPONSE_TEMPLATES.default4xx, undefined],
      ["DEFAULT_5XX", GATEWAY_RESPONSE_TEMPLATES.default5xx, undefined],
      ["BAD_REQUEST_BODY", GATEWAY_RESPONSE_TEMPLATES.badRequestBody, "400"],
      ["BAD_REQUEST_PARAMETERS", GATEWAY_RESPONSE_TEMPLATES.badRequestParameters, "400"],
    ];
    return responses.map(([responseType, template, statusCode]) => {
      const responseName = `${name}-${responseType.toLowerCase().replace(/_/g, "-")}`;
      return new aws.apigateway.Response(
        responseName,
        this.serve(responseName, {
          restApiId: this.restApi.id,
          responseType,
          statusCode,
          responseParameters,
          responseTemplates: { "application/json": template },
        }),
        { parent: this },
      );
    });
  }

  /** What the stage serves, with the args each part was created with (see deploymentTrigger). */
  private readonly served: ServedPart[] = [];

  /** Records a part of the API the stage snapshots; returns its args unchanged. */
  private serve<A extends object>(name: string, args: A): A {
    this.served.push({ name, inputs: args as pulumi.Inputs });
    return args;
  }

  /**
   * The account setting is per account and region, and so is its role here (a fixed name: a second
   * owner fails naming it instead of silently taking over). Retained on delete: destroying the
   * owning stack must not delete the role every API in the region still logs through.
   */
  private accountSettings(
    name: string,
    region: pulumi.Output<string>,
    partition: pulumi.Output<string>,
  ): aws.apigateway.Account {
    const owned = { parent: this, retainOnDelete: true };
    const role = new aws.iam.Role(
      `${name}-cloudwatch-role`,
      {
        name: apiGatewayCloudWatchRoleName(region),
        description: "API Gateway (this region): write access and execution logs to CloudWatch",
        assumeRolePolicy: JSON.stringify(API_GATEWAY_LOGGING_TRUST_POLICY),
        managedPolicyArns: [
          pulumi.interpolate`arn:${partition}:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs`,
        ],
      },
      owned,
    );
    return new aws.apigateway.Account(`${name}-account`, { cloudwatchRoleArn: role.arn }, owned);
  }
}

export interface ServedPart {
  /** The resource's Pulumi name. */
  name: string;
  inputs: pulumi.Inputs;
}

/**
 * The Deployment's trigger: a digest of every resolved input of every part the stage serves, keys
 * sorted, so it moves exactly when one of them does. Tests recompute it from what the mocks saw.
 */
export function deploymentTrigger(parts: { name: string; inputs: unknown }[]): string {
  const sorted = [...parts].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return sha256Hex(canonicalJson(sorted));
}

/** The group API Gateway writes execution logs to ([docs](https://docs.aws.amazon.com/apigateway/latest/developerguide/set-up-logging.html)). */
export function executionLogGroupName(
  restApiId: pulumi.Input<string>,
  stageName: string,
): pulumi.Output<string> {
  return pulumi.interpolate`API-Gateway-Execution-Logs_${restApiId}/${stageName}`;
}

/** One role per region (IAM names are account-global; the account setting is per region). */
export function apiGatewayCloudWatchRoleName(region: pulumi.Input<string>): pulumi.Output<string> {
  return pulumi.interpolate`apigateway-cloudwatch-logs-${region}`;
}

/**
 * The trust policy AWS documents for this role, as is: the `apigateway.amazonaws.com` principal
 * and no condition ([set-up-logging](https://docs.aws.amazon.com/apigateway/latest/developerguide/set-up-logging.html#set-up-access-logging-permissions)).
 * The role serves every API of every stack in the region, so a stack-specific condition would not fit.
 */
export const API_GATEWAY_LOGGING_TRUST_POLICY = {
  Version: "2012-10-17",
  Statement: [
    { Effect: "Allow", Principal: { Service: "apigateway.amazonaws.com" }, Action: "sts:AssumeRole" },
  ],
} as const;

/** Access log line: JSON, no request bodies, API key id (not the key). */
export const ACCESS_LOG_FORMAT = {
  requestId: "$context.requestId",
  ip: "$context.identity.sourceIp",
  requestTime: "$context.requestTimeEpoch",
  httpMethod: "$context.httpMethod",
  resourcePath: "$context.resourcePath",
  status: "$context.status",
  responseLength: "$context.responseLength",
  latencyMs: "$context.responseLatency",
  integrationLatencyMs: "$context.integrationLatency",
  apiKeyId: "$context.identity.apiKeyId",
  errorType: "$context.error.responseType",
  xrayTraceId: "$context.xrayTraceId",
};

const quote = (value: string) => `'${value}'`;

function preflightHeaders(origins: string[]): Record<string, string> {
  return {
    "method.response.header.Access-Control-Allow-Methods": quote(CORS_ALLOWED_METHODS.join(",")),
    "method.response.header.Access-Control-Allow-Headers": quote(CORS_ALLOWED_HEADERS.join(",")),
    "method.response.header.Access-Control-Max-Age": quote(String(CORS_MAX_AGE_SECONDS)),
    "method.response.header.Vary": quote("Origin"),
    ...(origins.includes("*") ? { "method.response.header.Access-Control-Allow-Origin": quote("*") } : {}),
  };
}

/**
 * With named origins a static header cannot pick the right one, so the integration response's
 * VTL template sets it per request, only for an allowed Origin.
 */
export function preflightOriginTemplate(origins: string[]): string {
  if (origins.includes("*")) return "";
  const list = origins.map((o) => `"${o}"`).join(",");
  return [
    "#set($origin = $input.params().header.get('Origin'))",
    "#if(!$origin || $origin == '')#set($origin = $input.params().header.get('origin'))#end",
    `#set($allowed = [${list}])`,
    "#if($allowed.contains($origin))",
    "#set($context.responseOverride.header.Access-Control-Allow-Origin = $origin)",
    "#end",
  ].join("\n");
}

/**
 * Gateway responses take static values or request parameters only. One named origin (or `*`) is
 * sent as is; with several, the request's Origin is echoed: these bodies carry no data, and the
 * browser still enforces the method's own CORS answers for real responses.
 */
export function gatewayCorsHeaders(origins: string[]): Record<string, string> {
  const origin = origins.includes("*")
    ? quote("*")
    : origins.length === 1
      ? quote(origins[0])
      : "method.request.header.origin";
  return {
    "gatewayresponse.header.Access-Control-Allow-Origin": origin,
    "gatewayresponse.header.Access-Control-Allow-Headers": quote(CORS_ALLOWED_HEADERS.join(",")),
    "gatewayresponse.header.Access-Control-Expose-Headers": quote(CORS_EXPOSED_HEADERS.join(",")),
    "gatewayresponse.header.Vary": quote("Origin"),
  };
}
