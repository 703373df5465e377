import * as pulumi from "@pulumi/pulumi";
import * as v from "valibot";
import { PHONE_PATTERN, SKU_PATTERN } from "./functions/shared/schema";

/**
 * One typed, validated view of the stack configuration. Every setting has a default that suits
 * production except where a stack must choose (alarm e-mail, origins); `Pulumi.dev.yaml` shows a
 * working dev stack. A bad value stops `pulumi up` before anything is created, with the key named.
 */

/** Retention values CloudWatch Logs accepts (PutRetentionPolicy). */
export const LOG_RETENTION_DAYS = [
  1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653,
] as const;

/** Regions where every service this program uses (REST API, SFN Standard, SQS, SNS SMS...) exists. */
const REGION_PATTERN = /^[a-z]{2}(-gov)?-[a-z]+-[0-9]$/;

const positiveInt = (max: number) => v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(max));

const CatalogueEntrySchema = v.strictObject({
  sku: v.pipe(v.string(), v.regex(SKU_PATTERN, "must match ^[A-Za-z0-9_-]{1,64}$")),
  name: v.optional(v.pipe(v.string(), v.maxLength(200))),
  /** Integer cents. */
  price: v.pipe(v.number(), v.integer("must be integer cents"), v.minValue(0)),
  stock: v.pipe(v.number(), v.integer(), v.minValue(0)),
});

// ---- capacity (issue 11: docs/benchmarks.md "Capacity model", bench/capacity.ts) ----------------
// The payment consumer's throughput is recordConcurrency x maximumConcurrency records in flight;
// the defaults are sized from the capacity model for 1,000 orders/s (see DEFAULTS).

const CapacityEntries = {
  /** Messages per process_payment invocation (event source mapping `BatchSize`). */
  paymentBatchSize: positiveInt(100),
  /**
   * Concurrent process_payment invocations the queue's event source mapping may run
   * (`ScalingConfig.MaximumConcurrency`, 2 to 1000:
   * https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-scaling.html).
   */
  paymentMaxConcurrency: v.pipe(v.number(), v.integer(), v.minValue(2), v.maxValue(1000)),
  /** Records of one batch process_payment handles at once (different orders side by side). */
  paymentRecordConcurrency: positiveInt(100),
  /** Time one record may need; a record starts only while this much of the invocation remains. */
  paymentRecordBudgetSeconds: positiveInt(60),
  /**
   * Reserved concurrency for process_payment: guarantees its share of the account's Lambda
   * concurrency (and caps it). Unset by default: reserving needs 100 unreserved executions left
   * in the account, which a new account with a low quota does not have.
   */
  paymentReservedConcurrency: v.optional(positiveInt(10_000)),
};

/** Batch size, timeout, budget and concurrency are one decision: checked together. */
function capacityChecks<C extends CapacityConfig>() {
  return [
    v.check(
      (c: C) => c.paymentRecordBudgetSeconds < c.paymentFunctionTimeoutSeconds,
      "paymentRecordBudgetSeconds must be less than paymentFunctionTimeoutSeconds, or no record ever starts",
    ),
    v.check(
      (c: C) =>
        Math.ceil(c.paymentBatchSize / c.paymentRecordConcurrency) * c.paymentRecordBudgetSeconds <=
        c.paymentFunctionTimeoutSeconds,
      "a full batch must fit the timeout: ceil(paymentBatchSize / paymentRecordConcurrency) x paymentRecordBudgetSeconds <= paymentFunctionTimeoutSeconds",
    ),
    v.check(
      (c: C) =>
        c.paymentReservedConcurrency === undefined || c.paymentReservedConcurrency >= c.paymentMaxConcurrency,
      "paymentReservedConcurrency must be at least paymentMaxConcurrency, or the queue's pollers are throttled",
    ),
  ] as const;
}

type CapacityConfig = v.InferOutput<v.ObjectSchema<typeof CapacityEntries, undefined>> & {
  paymentFunctionTimeoutSeconds: number;
};

const StackConfigEntries = v.strictObject({
  /** `aws:region`, or the AWS provider's default (AWS_REGION / AWS_DEFAULT_REGION): see loadStackConfig. */
  region: v.pipe(v.string(), v.regex(REGION_PATTERN, "must be an AWS region like us-east-1")),
  /** Origins allowed by CORS; `["*"]` allows any (then credentials are never allowed). */
  allowedOrigins: v.pipe(
    v.array(
      v.union([
        v.literal("*"),
        v.pipe(v.string(), v.url(), v.regex(/^https?:\/\/[^/]+$/, "must be scheme://host[:port] only")),
      ]),
    ),
    v.minLength(1),
    v.check((o) => !o.includes("*") || o.length === 1, "`*` cannot be combined with other origins"),
  ),
  /** Steady-state requests per second per API key ([API Gateway throttling](https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-request-throttling.html)). */
  apiRateLimit: v.pipe(v.number(), v.minValue(1), v.maxValue(10000)),
  apiBurstLimit: v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(5000)),
  // ---- API capacity (issue 9: two throttling layers) ----
  /**
   * Steady-state requests per second the stage accepts from all keys together (the stage's method
   * throttle): the API's capacity. At least apiRateLimit, at most the account's regional limit.
   */
  apiStageRateLimit: v.pipe(v.number(), v.minValue(1), v.maxValue(10000)),
  /** Burst the stage accepts from all keys together; at least apiBurstLimit. */
  apiStageBurstLimit: v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(5000)),
  // ---- end API capacity ----
  /** Requests per quota period per API key. */
  apiQuotaLimit: positiveInt(1_000_000_000),
  apiQuotaPeriod: v.picklist(["DAY", "WEEK", "MONTH"]),
  notificationEmails: v.array(v.pipe(v.string(), v.email("must be an e-mail address"))),
  /** SMS needs the account out of the SNS SMS sandbox and, for US numbers, an origination identity. */
  notificationSmsNumbers: v.array(
    v.pipe(v.string(), v.regex(PHONE_PATTERN, "must be E.164, like +15555550100")),
  ),
  /** Deliveries before a payment message moves to the DLQ (≥ 5: AWS's guidance for Lambda consumers). */
  maxReceiveCount: v.pipe(v.number(), v.integer(), v.minValue(5), v.maxValue(1000)),
  /** process_payment's timeout; the queue's visibility timeout is 6x this. */
  paymentFunctionTimeoutSeconds: v.pipe(v.number(), v.integer(), v.minValue(3), v.maxValue(120)),
  callbackTimeoutSeconds: v.pipe(v.number(), v.integer(), v.minValue(10), v.maxValue(86_400)),
  heartbeatSeconds: v.pipe(v.number(), v.integer(), v.minValue(5), v.maxValue(86_400)),
  logRetentionDays: v.picklist(LOG_RETENTION_DAYS, `must be one of ${LOG_RETENTION_DAYS.join(", ")}`),
  deletionProtection: v.boolean(),
  /** Receives operational alarms (DLQ depth, failed executions, errors). */
  alarmEmail: v.optional(v.pipe(v.string(), v.email("must be an e-mail address"))),
  /** Payment simulator: totals above this many cents are declined. */
  paymentDeclineAboveCents: v.pipe(v.number(), v.integer(), v.minValue(0)),
  /** Starting catalogue, written once at creation (a dev stack's seed data). */
  catalogue: v.pipe(
    v.array(CatalogueEntrySchema),
    v.maxLength(100),
    v.check((c) => new Set(c.map((i) => i.sku)).size === c.length, "skus must be distinct"),
  ),
  /** Manage the account-wide API Gateway CloudWatch role (needed for access logs; one per account/region). */
  manageApiGatewayAccount: v.boolean(),
  // ---- operations (components/monitoring.ts, docs/operations.md) ----
  /** Alarm when the payment DLQ holds at least this many visible messages. */
  alarmDlqMessages: positiveInt(100_000),
  /** Alarm when at least this many executions fail (or time out) in one alarm period. */
  alarmExecutionsFailed: positiveInt(100_000),
  /** Alarm when one function has at least this many errors in one alarm period. */
  alarmLambdaErrors: positiveInt(100_000),
  /** Alarm when one function is throttled at least this many times in one alarm period. */
  alarmLambdaThrottles: positiveInt(100_000),
  /** Alarm when the share of API requests answered 5xx reaches this percentage (Average of 5XXError). */
  alarmApi5xxPercent: v.pipe(v.number(), v.minValue(0.01), v.maxValue(100)),
  /** Alarm when the API's p99 latency reaches this many milliseconds for three periods in a row. */
  alarmApiLatencyP99Ms: positiveInt(29_000),
  /** Alarm when a table has at least this many throttled read or write events in one period. */
  alarmDynamoThrottles: positiveInt(100_000),
  /** Alarm when the sweeper reports at least this many stuck orders that need a person. */
  alarmStuckOrders: positiveInt(100_000),
  /** Alarm period (CloudWatch: 10, 30 or a multiple of 60). */
  alarmPeriodSeconds: v.pipe(
    v.number(),
    v.integer(),
    v.check((p) => p === 10 || p === 30 || (p >= 60 && p % 60 === 0), "must be 10, 30 or a multiple of 60"),
  ),
  /** Minutes between sweeper runs. */
  sweepIntervalMinutes: positiveInt(1440),
  /** An order is stuck once it is older than callbackTimeoutSeconds plus this margin. */
  sweepMarginSeconds: v.pipe(v.number(), v.integer(), v.minValue(60), v.maxValue(86_400)),
  ...CapacityEntries,
});

export const StackConfigSchema = v.pipe(
  StackConfigEntries,
  v.check(
    (c) => c.heartbeatSeconds > visibilityTimeoutSeconds(c),
    "heartbeatSeconds must exceed the queue visibility timeout (6 x paymentFunctionTimeoutSeconds), or a retried delivery misses its heartbeat",
  ),
  v.check(
    (c) => c.callbackTimeoutSeconds > c.heartbeatSeconds,
    "callbackTimeoutSeconds must be greater than heartbeatSeconds",
  ),
  // ---- API capacity (issue 9) ----
  v.forward(
    v.check(
      (c) => c.apiStageRateLimit >= c.apiRateLimit,
      "apiStageRateLimit (all clients together) must be at least apiRateLimit (one key's share)",
    ),
    ["apiStageRateLimit"],
  ),
  v.forward(
    v.check(
      (c) => c.apiStageBurstLimit >= c.apiBurstLimit,
      "apiStageBurstLimit (all clients together) must be at least apiBurstLimit (one key's share)",
    ),
    ["apiStageBurstLimit"],
  ),
  ...capacityChecks<v.InferOutput<typeof StackConfigEntries>>(),
);

export type StackConfig = v.InferOutput<typeof StackConfigSchema>;

export const DEFAULTS: Omit<StackConfig, "region" | "allowedOrigins"> = {
  apiRateLimit: 50,
  apiBurstLimit: 100,
  apiQuotaLimit: 100_000,
  apiQuotaPeriod: "DAY",
  notificationEmails: [],
  notificationSmsNumbers: [],
  maxReceiveCount: 5,
  paymentFunctionTimeoutSeconds: 30,
  heartbeatSeconds: 300,
  callbackTimeoutSeconds: 1200,
  logRetentionDays: 365,
  deletionProtection: true,
  paymentDeclineAboveCents: 100_000,
  catalogue: [],
  manageApiGatewayAccount: true,
  alarmDlqMessages: 1,
  alarmExecutionsFailed: 1,
  alarmLambdaErrors: 1,
  alarmLambdaThrottles: 1,
  alarmApi5xxPercent: 1,
  alarmApiLatencyP99Ms: 3000,
  alarmDynamoThrottles: 1,
  alarmStuckOrders: 1,
  alarmPeriodSeconds: 300,
  sweepIntervalMinutes: 5,
  sweepMarginSeconds: 300,
  // capacity (docs/benchmarks.md "Capacity model"): the mapping's maximum is a cap, not a
  // reservation: half the default account concurrency (1,000), so a backlog never takes the
  // API's share; 500 invocations x 10 records carry 1,000 orders/s while a record takes up to
  // 5 s. The stage takes 5,000 requests/s: 1,000 POSTs plus clients' GETs, under the account's
  // default 10,000/s.
  paymentBatchSize: 10,
  paymentMaxConcurrency: 500,
  paymentRecordConcurrency: 10,
  paymentRecordBudgetSeconds: 10,
  apiStageRateLimit: 5000,
  apiStageBurstLimit: 5000,
};

export class ConfigError extends Error {
  constructor(readonly issues: { key: string; message: string }[]) {
    super(`Invalid stack configuration:\n${issues.map((i) => `  ${i.key}: ${i.message}`).join("\n")}`);
    this.name = "ConfigError";
  }
}

/** Validates raw values (already parsed from YAML/JSON) against the schema, defaults applied. */
export function parseStackConfig(raw: Record<string, unknown>): StackConfig {
  const defined = Object.fromEntries(Object.entries(raw).filter(([, value]) => value !== undefined));
  const result = v.safeParse(StackConfigSchema, { ...DEFAULTS, ...defined });
  if (result.success) return result.output;
  throw new ConfigError(
    result.issues.map((issue) => ({
      key: v.getDotPath(issue) ?? "(stack)",
      message: issue.message,
    })),
  );
}

/**
 * Reads every `<project>:*` key of the stack, plus the region, and validates them. All keys, not
 * a list of known ones: a misspelt key (`orderflow:maxRecieveCount`) is an error naming it, not
 * a setting silently left at its default. The region is `aws:region`, else the AWS provider's
 * default from the environment; with neither, the error says how to set one.
 */
export function loadStackConfig(
  all: Record<string, string> = pulumi.runtime.allConfig(),
  project: string = pulumi.getProject(),
  env: NodeJS.ProcessEnv = process.env,
): StackConfig {
  const prefix = `${project}:`;
  const region = all["aws:region"] || env.AWS_REGION || env.AWS_DEFAULT_REGION;
  if (!region) {
    throw new ConfigError([
      {
        key: "region",
        message:
          "no region: set one with `pulumi config set aws:region <region>` (or AWS_REGION for the AWS provider)",
      },
    ]);
  }
  const raw: Record<string, unknown> = { region };
  for (const [key, text] of Object.entries(all)) {
    if (key.startsWith(prefix)) raw[key.slice(prefix.length)] = parseValue(text);
  }
  return parseStackConfig(raw);
}

/** Pulumi hands structured and scalar values as strings; JSON covers numbers, booleans and lists. */
function parseValue(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** The queue's visibility timeout: 6x the consumer's timeout ([SQS + Lambda guidance](https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-configure.html)). */
export function visibilityTimeoutSeconds(config: { paymentFunctionTimeoutSeconds: number }): number {
  return 6 * config.paymentFunctionTimeoutSeconds;
}
