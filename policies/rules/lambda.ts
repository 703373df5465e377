/**
 * Lambda functions: supported runtime, active tracing, environment encrypted with the CMK, an
 * explicit least-privilege role (never CallbackFunction's default one), and no public invoke
 * permission. Checkov CKV_AWS_363/CKV_AWS_50/CKV_AWS_173,
 * Security Hub Lambda.1/Lambda.2/Lambda.7.
 */
import * as aws from "@pulumi/aws";
import {
  PolicyResource,
  ResourceValidationPolicy,
  StackValidationPolicy,
  validateResourceOfType,
} from "@pulumi/policy";
import {
  cmkProblem,
  configWithDefaults,
  DEFAULT_ENFORCEMENT,
  describe,
  isBroadManagedPolicy,
  isNonEmptyString,
  ManagedPolicyAttachment,
  managedPolicyAttachment,
  managedPolicyName,
  matchByValue,
  referencedResources,
} from "./util";
import { BROAD_MANAGED_POLICY_PATTERNS } from "./iam";

/**
 * Runtimes AWS still supports (https://docs.aws.amazon.com/lambda/latest/dg/lambda-runtimes.html);
 * nodejs20.x, python3.9/3.10, ruby3.2, java8.al2, java11 and provided.al2 are past or at their
 * deprecation date. Override with the rule's `allowedRuntimes` config.
 */
export const SUPPORTED_RUNTIMES = [
  "nodejs22.x",
  "nodejs24.x",
  "python3.11",
  "python3.12",
  "python3.13",
  "python3.14",
  "java17",
  "java21",
  "java25",
  "dotnet8",
  "dotnet10",
  "ruby3.3",
  "ruby3.4",
  "provided.al2023",
];

export const lambdaSupportedRuntime: ResourceValidationPolicy = {
  name: "lambda-supported-runtime",
  description: `Lambda functions must use a runtime AWS still supports: set runtime to one of the allowed runtimes (default: ${SUPPORTED_RUNTIMES.join(", ")}).`,
  enforcementLevel: DEFAULT_ENFORCEMENT,
  severity: "high",
  configSchema: {
    properties: {
      allowedRuntimes: { type: "array", items: { type: "string" }, default: SUPPORTED_RUNTIMES },
    },
  },
  validateResource: validateResourceOfType(aws.lambda.Function, (fn, args, reportViolation) => {
    if (fn.packageType === "Image") args.notApplicable("container image functions bring their own runtime");
    const { allowedRuntimes } = configWithDefaults(args, { allowedRuntimes: SUPPORTED_RUNTIMES });
    const runtime = fn.runtime as string | undefined;
    if (!isNonEmptyString(runtime)) {
      reportViolation("runtime is not set.");
    } else if (!allowedRuntimes.includes(runtime)) {
      reportViolation(`runtime ${runtime} is not supported; use one of ${allowedRuntimes.join(", ")}.`);
    }
  }),
};

export const lambdaTracingActive: ResourceValidationPolicy = {
  name: "lambda-tracing-active",
  description: 'Lambda functions must send traces to X-Ray: set tracingConfig to { mode: "Active" }.',
  enforcementLevel: DEFAULT_ENFORCEMENT,
  severity: "low",
  validateResource: validateResourceOfType(aws.lambda.Function, (fn, _args, reportViolation) => {
    const mode = fn.tracingConfig?.mode;
    if (mode !== "Active") reportViolation(`tracingConfig.mode is ${mode ?? "not set"}.`);
  }),
};

export const lambdaEnvironmentCmkEncrypted: ResourceValidationPolicy = {
  name: "lambda-environment-cmk-encrypted",
  description:
    "Lambda functions with environment variables must encrypt them with the customer-managed KMS key: set kmsKeyArn to the key's ARN.",
  enforcementLevel: DEFAULT_ENFORCEMENT,
  severity: "medium",
  validateResource: validateResourceOfType(aws.lambda.Function, (fn, args, reportViolation) => {
    const variables = fn.environment?.variables;
    if (!variables || Object.keys(variables).length === 0) {
      args.notApplicable("the function has no environment variables");
    }
    const problem = cmkProblem(fn.kmsKeyArn, "kmsKeyArn");
    if (problem) reportViolation(`${problem}: Lambda falls back to the AWS-managed key alias/aws/lambda.`);
  }),
};

/**
 * The managed policies attached to each role a function runs under, by role: the roles' own
 * `managedPolicyArns` and every attachment that names the role. Built once per stack; the ARNs
 * are read only for roles a function uses.
 */
function managedPoliciesByRole(
  resources: PolicyResource[],
  functionRoles: PolicyResource[],
): Map<PolicyResource, ManagedPolicyAttachment[]> {
  const byRole = new Map<PolicyResource, ManagedPolicyAttachment[]>(
    functionRoles.map((role) => [role, [managedPolicyAttachment(role)!]]),
  );
  if (functionRoles.length === 0) return byRole;
  for (const r of resources) {
    const attachment = managedPolicyAttachment(r);
    if (!attachment?.roleProperty) continue;
    for (const role of referencedResources(r, attachment.roleProperty, functionRoles, [
      "name",
      "id",
      "arn",
    ])) {
      byRole.get(role)!.push(attachment);
    }
  }
  return byRole;
}

export const lambdaExplicitRole: StackValidationPolicy = {
  name: "lambda-explicit-role",
  description:
    "Lambda functions must run under an explicit, least-privilege role: pass `role` to aws.lambda.CallbackFunction; without it the function gets a role with AWSLambda_FullAccess, AmazonS3FullAccess, AmazonDynamoDBFullAccess and other broad managed policies.",
  enforcementLevel: DEFAULT_ENFORCEMENT,
  severity: "critical",
  validateStack: (args, reportViolation) => {
    const functions = args.resources.filter((r) => r.isType(aws.lambda.Function));
    if (functions.length === 0) args.notApplicable("the stack has no Lambda functions");
    const roles = args.resources.filter((r) => r.isType(aws.iam.Role));
    const rolesOf = new Map<PolicyResource, PolicyResource[]>();
    for (const fn of functions) {
      if (isNonEmptyString(fn.props.role)) rolesOf.set(fn, referencedResources(fn, "role", roles, ["arn"]));
    }
    const managed = managedPoliciesByRole(args.resources, [...new Set([...rolesOf.values()].flat())]);
    for (const fn of functions) {
      const fnRoles = rolesOf.get(fn);
      if (!fnRoles) {
        reportViolation(`${describe(fn)} has no role.`, fn.urn);
        continue;
      }
      for (const role of fnRoles) {
        // CallbackFunction's default role: AWSLambda_FullAccess, AmazonS3FullAccess, ... (all broad).
        const broad = managed
          .get(role)!
          .flatMap((a) => a.policyArns())
          .filter(
            (arn): arn is string =>
              isNonEmptyString(arn) && isBroadManagedPolicy(arn, BROAD_MANAGED_POLICY_PATTERNS),
          )
          .map(managedPolicyName);
        if (broad.length > 0) {
          reportViolation(
            `${describe(fn)} runs under ${describe(role)}, which has broad managed policies (${broad.join(", ")}), as CallbackFunction's default role does: give the function its own role with an inline policy scoped to its resources.`,
            fn.urn,
          );
        }
      }
    }
  },
};

/**
 * Stricter than resource-policy-no-public-access, which lets a "*" principal through with a source
 * condition: a permission names its service or account. That a service principal names its source
 * is resource-policy-service-source-condition's, for permissions as for every resource policy.
 */
export const lambdaPermissionSourceArn: ResourceValidationPolicy = {
  name: "lambda-permission-source-arn",
  description:
    'Lambda permissions must not be public: set principal to the service (e.g. apigateway.amazonaws.com) or account that invokes the function, never "*", even with a sourceArn.',
  enforcementLevel: DEFAULT_ENFORCEMENT,
  severity: "critical",
  validateResource: validateResourceOfType(aws.lambda.Permission, (permission, _args, reportViolation) => {
    if (permission.principal === "*")
      reportViolation('principal is "*": anyone can invoke the function; name the service or account.');
  }),
};

export const lambdaLogsToManagedGroup: StackValidationPolicy = {
  name: "lambda-logs-to-managed-group",
  description:
    "Every Lambda function must log to a log group this stack manages (with the CMK and a retention): set loggingConfig.logGroup to that group's name, or create /aws/lambda/<function name>; otherwise Lambda creates a group that is not encrypted with the CMK and keeps logs forever.",
  enforcementLevel: DEFAULT_ENFORCEMENT,
  severity: "medium",
  validateStack: (args, reportViolation) => {
    const functions = args.resources.filter((r) => r.isType(aws.lambda.Function));
    if (functions.length === 0) args.notApplicable("the stack has no Lambda functions");
    const groups = args.resources.filter((r) => r.isType(aws.cloudwatch.LogGroup));
    for (const fn of functions) {
      if ((fn.propertyDependencies["loggingConfig"] ?? []).some((d) => groups.includes(d))) continue;
      const configured = (fn.props.loggingConfig as { logGroup?: unknown } | undefined)?.logGroup;
      const name = fn.props.name;
      const wanted = isNonEmptyString(configured)
        ? configured
        : isNonEmptyString(name)
          ? `/aws/lambda/${name}`
          : undefined;
      if (!wanted) {
        reportViolation(
          `${describe(fn)} has neither a name nor loggingConfig.logGroup: cannot tell where it logs.`,
          fn.urn,
        );
      } else if (matchByValue([wanted], groups, ["name"]).length === 0) {
        reportViolation(`${describe(fn)} logs to ${wanted}, which is not a log group of this stack.`, fn.urn);
      }
    }
  },
};

export const lambdaFunctionUrlIamAuth: ResourceValidationPolicy = {
  name: "lambda-function-url-iam-auth",
  description:
    'Lambda function URLs must require IAM authentication: set authorizationType to "AWS_IAM" (NONE makes the function callable by anyone on the internet).',
  enforcementLevel: DEFAULT_ENFORCEMENT,
  severity: "critical",
  validateResource: validateResourceOfType(aws.lambda.FunctionUrl, (url, _args, reportViolation) => {
    if (url.authorizationType !== "AWS_IAM")
      reportViolation(`authorizationType is ${String(url.authorizationType ?? "not set")}.`);
  }),
};

/** Event sources whose batches can be partially failed (queues and streams). */
const BATCH_SOURCES = ["sqs", "kinesis", "dynamodb"];
const BATCH_DEFAULTS = { exemptMappings: [] as string[] };

export const lambdaEventSourceReportsBatchFailures: ResourceValidationPolicy = {
  name: "lambda-event-source-reports-batch-failures",
  description:
    'Event source mappings from SQS, Kinesis or DynamoDB streams must let the function report partial failures: set functionResponseTypes: ["ReportBatchItemFailures"] (without it the batchItemFailures a handler returns are ignored and a whole batch is retried).',
  enforcementLevel: DEFAULT_ENFORCEMENT,
  severity: "high",
  configSchema: {
    properties: {
      exemptMappings: {
        type: "array",
        items: { type: "string" },
        default: BATCH_DEFAULTS.exemptMappings,
        description: "Names (Pulumi resource names) of mappings whose function never reports item failures.",
      },
    },
  },
  validateResource: validateResourceOfType(aws.lambda.EventSourceMapping, (esm, args, reportViolation) => {
    const types = (esm.functionResponseTypes ?? []) as string[];
    if (types.includes("ReportBatchItemFailures")) return;
    const source = esm.eventSourceArn;
    const service = isNonEmptyString(source) ? (/^arn:[^:]*:([^:]*):/.exec(source)?.[1] ?? "") : "";
    if (!BATCH_SOURCES.includes(service))
      args.notApplicable("only queue and stream sources have partial batch responses");
    if (configWithDefaults(args, BATCH_DEFAULTS).exemptMappings.includes(args.name)) return;
    reportViolation(`reads ${String(source)} without functionResponseTypes ["ReportBatchItemFailures"].`);
  }),
};

export const lambdaPolicies = [
  lambdaSupportedRuntime,
  lambdaTracingActive,
  lambdaEnvironmentCmkEncrypted,
  lambdaExplicitRole,
  lambdaPermissionSourceArn,
  lambdaLogsToManagedGroup,
  lambdaFunctionUrlIamAuth,
  lambdaEventSourceReportsBatchFailures,
];
