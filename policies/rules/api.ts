/**
 * API Gateway REST APIs: every method but the CORS preflight needs an API key and a request
 * validator, stages log access and trace with X-Ray without logging request/response bodies, and a
 * usage plan throttles the keys. Checkov CKV_AWS_59/CKV_AWS_73/CKV_AWS_76/CKV_AWS_120/
 * CKV2_AWS_4/CKV2_AWS_53, Security Hub APIGateway.1/APIGateway.3.
 */
import * as aws from "@pulumi/aws";
import {
  PolicyResource,
  ResourceValidationPolicy,
  StackValidationPolicy,
  validateResourceOfType,
} from "@pulumi/policy";
import { configWithDefaults, DEFAULT_ENFORCEMENT, describe, isNonEmptyString } from "./util";

/** OPTIONS: the browser's CORS preflight, which sends no API key and no body. */
const isCorsPreflight = (method: { httpMethod: unknown }) =>
  String(method.httpMethod).toUpperCase() === "OPTIONS";

export const apigatewayMethodRequiresApiKey: ResourceValidationPolicy = {
  name: "apigateway-method-requires-api-key",
  description: "API Gateway methods other than OPTIONS must require an API key: set apiKeyRequired: true.",
  enforcementLevel: DEFAULT_ENFORCEMENT,
  severity: "high",
  validateResource: validateResourceOfType(aws.apigateway.Method, (method, args, reportViolation) => {
    if (isCorsPreflight(method)) args.notApplicable("CORS preflight requests carry no API key");
    if (method.apiKeyRequired !== true) reportViolation(`${method.httpMethod} does not require an API key.`);
  }),
};

export const apigatewayMethodHasRequestValidator: ResourceValidationPolicy = {
  name: "apigateway-method-has-request-validator",
  description:
    "API Gateway methods other than OPTIONS must validate requests at the gateway: set requestValidatorId (body and/or parameters) so malformed requests never reach the Lambda.",
  enforcementLevel: DEFAULT_ENFORCEMENT,
  severity: "medium",
  validateResource: validateResourceOfType(aws.apigateway.Method, (method, args, reportViolation) => {
    if (isCorsPreflight(method)) args.notApplicable("CORS preflight requests are not validated");
    if (!isNonEmptyString(method.requestValidatorId))
      reportViolation(`${method.httpMethod} has no requestValidatorId.`);
  }),
};

export const apigatewayStageAccessLogs: ResourceValidationPolicy = {
  name: "apigateway-stage-access-logs",
  description:
    "API Gateway stages must write access logs: set accessLogSettings to { destinationArn: <log group ARN>, format: <JSON format> }.",
  enforcementLevel: DEFAULT_ENFORCEMENT,
  severity: "medium",
  validateResource: validateResourceOfType(aws.apigateway.Stage, (stage, _args, reportViolation) => {
    const settings = stage.accessLogSettings;
    if (!isNonEmptyString(settings?.destinationArn))
      reportViolation("accessLogSettings.destinationArn is not set.");
    if (!isNonEmptyString(settings?.format)) reportViolation("accessLogSettings.format is not set.");
  }),
};

export const apigatewayStageXrayTracing: ResourceValidationPolicy = {
  name: "apigateway-stage-xray-tracing",
  description: "API Gateway stages must trace requests with X-Ray: set xrayTracingEnabled: true.",
  enforcementLevel: DEFAULT_ENFORCEMENT,
  severity: "low",
  validateResource: validateResourceOfType(aws.apigateway.Stage, (stage, _args, reportViolation) => {
    if (stage.xrayTracingEnabled !== true) reportViolation("xrayTracingEnabled is not true.");
  }),
};

export const apigatewayNoDataTrace: ResourceValidationPolicy = {
  name: "apigateway-no-data-trace",
  description:
    "API Gateway method settings must not log full requests and responses (they contain customer data and API keys): set settings.dataTraceEnabled: false.",
  enforcementLevel: DEFAULT_ENFORCEMENT,
  severity: "high",
  validateResource: validateResourceOfType(aws.apigateway.MethodSettings, (ms, _args, reportViolation) => {
    if (ms.settings?.dataTraceEnabled === true)
      reportViolation(`settings.dataTraceEnabled is true for ${ms.methodPath}.`);
  }),
};

/** Usage plans whose apiStages name `stage` (by value, or by the engine's property dependencies). */
function plansCovering(stage: PolicyResource, plans: PolicyResource[]): PolicyResource[] {
  const byDependency = plans.filter((p) => (p.propertyDependencies["apiStages"] ?? []).includes(stage));
  if (byDependency.length > 0) return byDependency;
  const stageName = stage.props.stageName;
  const restApi = stage.props.restApi;
  return plans.filter((p) => {
    const apiStages = (p.props.apiStages ?? []) as { apiId?: unknown; stage?: unknown }[];
    return apiStages.some((s) => isNonEmptyString(s.apiId) && s.stage === stageName && s.apiId === restApi);
  });
}

export const apigatewayUsagePlanExists: StackValidationPolicy = {
  name: "apigateway-usage-plan-exists",
  description:
    "Every API Gateway stage must be in a usage plan (throttling and quota per API key): create an aws.apigateway.UsagePlan whose apiStages list the stage, and a UsagePlanKey for the API key.",
  enforcementLevel: DEFAULT_ENFORCEMENT,
  severity: "medium",
  validateStack: (args, reportViolation) => {
    const stages = args.resources.filter((r) => r.isType(aws.apigateway.Stage));
    if (stages.length === 0) args.notApplicable("the stack has no API Gateway stage");
    const plans = args.resources.filter((r) => r.isType(aws.apigateway.UsagePlan));
    for (const stage of stages) {
      if (plansCovering(stage, plans).length === 0) {
        reportViolation(
          `${describe(stage)} (${String(stage.props.stageName)}) is in no usage plan.`,
          stage.urn,
        );
      }
    }
  },
};

/** The method settings that apply to `stage` (by the engine's property dependencies, else by value). */
function settingsFor(stage: PolicyResource, all: PolicyResource[]): PolicyResource[] {
  const byDependency = all.filter((ms) => (ms.propertyDependencies["stageName"] ?? []).includes(stage));
  if (byDependency.length > 0) return byDependency;
  const stageApis = stage.propertyDependencies["restApi"] ?? [];
  return all.filter(
    (ms) =>
      ms.props.stageName === stage.props.stageName &&
      ((ms.propertyDependencies["restApi"] ?? []).some((a) => stageApis.includes(a)) ||
        ms.props.restApi === stage.props.restApi),
  );
}

interface Settings {
  loggingLevel?: string;
  cachingEnabled?: boolean;
  cacheDataEncrypted?: boolean;
}
const settingsOf = (ms: PolicyResource) => (ms.props.settings ?? {}) as Settings;

const EXECUTION_LOGGING_DEFAULTS = { allowedLevels: ["ERROR", "INFO"] };

export const apigatewayStageExecutionLogging: StackValidationPolicy = {
  name: "apigateway-stage-execution-logging",
  description:
    'API Gateway stages must write execution logs: create an aws.apigateway.MethodSettings for the stage with methodPath "*/*" and settings.loggingLevel "ERROR" or "INFO" (and no method set to "OFF").',
  enforcementLevel: DEFAULT_ENFORCEMENT,
  severity: "medium",
  configSchema: {
    properties: {
      allowedLevels: {
        type: "array",
        items: { type: "string", enum: ["ERROR", "INFO"] },
        default: EXECUTION_LOGGING_DEFAULTS.allowedLevels,
      },
    },
  },
  validateStack: (args, reportViolation) => {
    const { allowedLevels } = configWithDefaults(args, EXECUTION_LOGGING_DEFAULTS);
    const stages = args.resources.filter((r) => r.isType(aws.apigateway.Stage));
    if (stages.length === 0) args.notApplicable("the stack has no API Gateway stage");
    const all = args.resources.filter((r) => r.isType(aws.apigateway.MethodSettings));
    for (const stage of stages) {
      const settings = settingsFor(stage, all);
      const whole = settings.filter((ms) => ms.props.methodPath === "*/*");
      if (!whole.some((ms) => allowedLevels.includes(String(settingsOf(ms).loggingLevel)))) {
        reportViolation(
          `${describe(stage)} has no "*/*" method settings with loggingLevel ${allowedLevels.join(" or ")}.`,
          stage.urn,
        );
      }
    }
    for (const ms of all) {
      const level = settingsOf(ms).loggingLevel;
      if (level !== undefined && !allowedLevels.includes(level))
        reportViolation(
          `${describe(ms)} sets loggingLevel ${level} for ${String(ms.props.methodPath)}.`,
          ms.urn,
        );
    }
  },
};

export const apigatewayCacheEncrypted: StackValidationPolicy = {
  name: "apigateway-cache-encrypted",
  description:
    "API Gateway caches must be encrypted: where a stage has cacheClusterEnabled or method settings have cachingEnabled, set settings.cacheDataEncrypted: true.",
  enforcementLevel: DEFAULT_ENFORCEMENT,
  severity: "medium",
  validateStack: (args, reportViolation) => {
    const stages = args.resources.filter((r) => r.isType(aws.apigateway.Stage));
    const all = args.resources.filter((r) => r.isType(aws.apigateway.MethodSettings));
    if (stages.length === 0 && all.length === 0) args.notApplicable("the stack has no API Gateway stage");
    for (const ms of all) {
      const s = settingsOf(ms);
      if (s.cachingEnabled === true && s.cacheDataEncrypted !== true)
        reportViolation(
          `${describe(ms)} caches ${String(ms.props.methodPath)} without cacheDataEncrypted.`,
          ms.urn,
        );
    }
    for (const stage of stages) {
      if (stage.props.cacheClusterEnabled !== true) continue;
      if (!settingsFor(stage, all).some((ms) => settingsOf(ms).cacheDataEncrypted === true))
        reportViolation(
          `${describe(stage)} has a cache cluster but no method settings with cacheDataEncrypted.`,
          stage.urn,
        );
    }
  },
};

/** Security policies with TLS 1.2 or later (https://docs.aws.amazon.com/apigateway/latest/developerguide/apigateway-custom-domain-tls-version.html). */
const MODERN_TLS = /^(TLS_1_2|SecurityPolicy_TLS1[23]_.*)$/;

export const apigatewayDomainTls12: ResourceValidationPolicy = {
  name: "apigateway-domain-tls-1-2",
  description:
    'API Gateway custom domains must refuse TLS 1.0/1.1: set securityPolicy to "TLS_1_2" (or a TLS 1.3 policy).',
  enforcementLevel: DEFAULT_ENFORCEMENT,
  severity: "medium",
  validateResource: validateResourceOfType(aws.apigateway.DomainName, (domain, _args, reportViolation) => {
    const policy = domain.securityPolicy;
    if (!isNonEmptyString(policy) || !MODERN_TLS.test(policy))
      reportViolation(`securityPolicy is ${policy ?? "not set"}.`);
  }),
};

export const apiPolicies = [
  apigatewayMethodRequiresApiKey,
  apigatewayMethodHasRequestValidator,
  apigatewayStageAccessLogs,
  apigatewayStageXrayTracing,
  apigatewayNoDataTrace,
  apigatewayUsagePlanExists,
  apigatewayStageExecutionLogging,
  apigatewayCacheEncrypted,
  apigatewayDomainTls12,
];
