/**
 * Part 5: a capacity model of the deployed design. For each constraint, the sustained orders/s
 * it allows at default quotas and at requestable ones; the binding constraint; the latency and
 * the Lambda concurrency at that rate (Little's law on measured durations); the cost.
 * Inputs:
 *  - registered resources (under mocks): batch size, maximum concurrency, record concurrency,
 *    reserved concurrency, timeouts and memory, tables, indexes and projections, usage-plan and
 *    stage throttles, the state machine (transitions per path, from the cost part);
 *  - measured offline, one order alone per path (bench/pipeline.ts): Lambda invocations and
 *    durations, Step Functions and SQS calls, DynamoDB writes and write units per table, per index
 *    and per index key family (bench/dynamoUse.ts);
 *  - bench/quotas/<region>.json: each quota's default, whether it can be raised, the value used
 *    for "requestable", and where it is documented (dated; verified or from memory).
 * Run alone (`npm run bench:capacity`) it measures the two paths itself and updates the
 * `capacity` key of bench/results/latest.json and its section of latest.md.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { HANDLER_TAG } from "../components/handlerTag";
import { ORDER_LIST_SHARDS } from "../functions/shared/orderStore";
import { ENV } from "../functions/shared/settings";
import type { RegisteredResource } from "../program/mocks";
import type { CostFigure } from "./cost";
import type { PathCounts, PipelineFigure } from "./pipeline";
import { round } from "./stats";

/** The issue's target: sustained orders/s at requestable quotas. */
export const TARGET_ORDERS_PER_SECOND = 1000;

interface Quota {
  service: string;
  name: string;
  default: number | null;
  unit: string;
  raisable: boolean;
  requestable: number | null;
  requestableBasis: string;
  doc: string;
  verified: boolean;
}

interface QuotaFile {
  region: string;
  asOf: string;
  quotas: Record<string, Quota>;
}

export type ConstraintKind = "quota" | "hard" | "design";

export interface Constraint {
  id: string;
  name: string;
  /** quota: a customer can raise it; hard: AWS's fixed limit; design: set by this program. */
  kind: ConstraintKind;
  /** "system" constraints bind the whole pipeline; "per API key" and "per SKU" bind one client or product. */
  scope: "system" | "per API key" | "per SKU";
  /** Use per order (worst path) and its unit. */
  perOrder: number;
  unit: string;
  limitDefault: number;
  limitRequestable: number;
  ordersPerSecondDefault: number;
  ordersPerSecondRequestable: number;
  /** The quotas file entry, when the limit comes from one. */
  quota?: string;
  verified?: boolean;
}

export interface CapacityFigure {
  region: string;
  quotasAsOf: string;
  target: number;
  /** Sustained rate at requestable quotas (system scope). */
  ordersPerSecond: number;
  ordersPerSecondDefaultQuotas: number;
  binding: string;
  bindingIsDesignLimit: boolean;
  bindingDefaultQuotas: string;
  bindingDefaultQuotasIsDesignLimit: boolean;
  /** The lowest design constraint: how far the design goes whatever the quotas. */
  designCeilingOrdersPerSecond: number;
  /** Raisable quotas whose default allows less than the target, with the value the target needs. */
  mustRequest: { quota: string; name: string; default: number; needed: number; unit: string }[];
  /** At `ordersPerSecond`: Little's law on the measured handler durations. */
  atRate: {
    ordersPerSecond: number;
    /** Handler time along the success path, plus the queue's batching window as an upper bound. */
    latencyMs: { handlers: number; batchingWindowMax: number };
    inFlightOrders: number;
    lambdaConcurrency: number;
    /** Seconds for process_payment to reach the concurrency it needs (1,000 environments per 10 s). */
    rampSeconds: number;
    costPerMillionOrders: number;
    costPerHour: number;
  };
  inputs: {
    registered: Record<string, unknown>;
    measured: Record<string, unknown>;
  };
  constraints: Constraint[];
}

export function readQuotas(region: string): QuotaFile {
  return JSON.parse(fs.readFileSync(path.join(__dirname, "quotas", `${region}.json`), "utf8")) as QuotaFile;
}

type Paths = Pick<PipelineFigure, "success" | "failure" | "memoryMb">;

/** What the registered resources say about throughput. */
export function registeredInputs(all: RegisteredResource[]) {
  const fns = all.filter((r) => r.type === "aws:lambda/function:Function");
  const byHandler = Object.fromEntries(
    fns.map((f) => [(f.inputs.tags as Record<string, string>)[HANDLER_TAG], f] as const),
  );
  const pay = byHandler.processPayment;
  if (!pay) throw new Error("no processPayment function registered");
  const env = (pay.inputs.environment as { variables: Record<string, string> }).variables;
  const esm = all.find((r) => r.type === "aws:lambda/eventSourceMapping:EventSourceMapping");
  if (!esm) throw new Error("no event source mapping registered");
  const usagePlan = all.find((r) => r.type === "aws:apigateway/usagePlan:UsagePlan");
  const stageThrottle = all
    .filter((r) => r.type === "aws:apigateway/methodSettings:MethodSettings")
    .map((r) => (r.inputs.settings as { throttlingRateLimit?: number } | undefined)?.throttlingRateLimit)
    .filter((x): x is number => typeof x === "number" && x >= 0);
  const tables = all
    .filter((r) => r.type === "aws:dynamodb/table:Table")
    .map((t) => ({
      name: String(t.inputs.name ?? t.state.name ?? t.name),
      hashKey: String(t.inputs.hashKey),
      rangeKey: t.inputs.rangeKey as string | undefined,
      indexes: ((t.inputs.globalSecondaryIndexes as Record<string, unknown>[] | undefined) ?? []).map(
        (g) => ({
          name: String(g.name),
          hashKey: String(g.hashKey),
          rangeKey: g.rangeKey as string | undefined,
          projectionType: String(g.projectionType),
          nonKeyAttributes: g.nonKeyAttributes as string[] | undefined,
        }),
      ),
    }));
  return {
    batchSize: Number(esm.inputs.batchSize),
    maximumConcurrency: Number(
      (esm.inputs.scalingConfig as { maximumConcurrency?: number })?.maximumConcurrency,
    ),
    batchingWindowSeconds: Number(esm.inputs.maximumBatchingWindowInSeconds ?? 0),
    recordConcurrency: Number(env[ENV.paymentRecordConcurrency] ?? 1),
    recordBudgetMs: Number(env[ENV.paymentRecordBudgetMs] ?? 0),
    reservedConcurrency: pay.inputs.reservedConcurrentExecutions as number | undefined,
    functions: Object.fromEntries(
      Object.entries(byHandler).map(([h, f]) => [
        h,
        { timeoutSeconds: Number(f.inputs.timeout), memoryMb: Number(f.inputs.memorySize) },
      ]),
    ),
    usagePlanRateLimit: (usagePlan?.inputs.throttleSettings as { rateLimit?: number } | undefined)?.rateLimit,
    stageRateLimit: stageThrottle.length ? Math.min(...stageThrottle) : undefined,
    tables,
    listShards: ORDER_LIST_SHARDS,
  };
}

const worst = (f: (p: PathCounts) => number, paths: Paths) => Math.max(f(paths.success), f(paths.failure));
const calls = (p: PathCounts, target: string) => p.requests[target] ?? 0;

export function benchCapacity(all: RegisteredResource[], paths: Paths, cost: CostFigure): CapacityFigure {
  const q = readQuotas(cost.region);
  const reg = registeredInputs(all);
  const quota = (id: string): Quota => {
    const found = q.quotas[id];
    if (!found) throw new Error(`bench/quotas/${cost.region}.json has no ${id}`);
    return found;
  };
  const constraints: Constraint[] = [];
  const add = (
    c: Omit<
      Constraint,
      "ordersPerSecondDefault" | "ordersPerSecondRequestable" | "limitDefault" | "limitRequestable"
    > & {
      limitDefault?: number;
      limitRequestable?: number;
    },
  ) => {
    const qt = c.quota ? quota(c.quota) : undefined;
    const limitDefault = c.limitDefault ?? Number(qt?.default);
    const limitRequestable = c.limitRequestable ?? Number(qt?.requestable ?? limitDefault);
    const rate = (limit: number) => (c.perOrder > 0 ? round(limit / c.perOrder, 0) : Infinity);
    constraints.push({
      ...c,
      limitDefault,
      limitRequestable,
      ordersPerSecondDefault: rate(limitDefault),
      ordersPerSecondRequestable: rate(limitRequestable),
      ...(qt ? { verified: qt.verified } : {}),
    });
  };

  // ---- Lambda ----
  const B = reg.batchSize;
  const c = Math.min(reg.recordConcurrency, B);
  const waves = Math.ceil(B / c);
  const durations = (p: PathCounts) => p.durationsMs;
  /** process_payment's time per record (one record per invocation when measured alone). */
  const recordMs = worst((p) => durations(p).processPayment ?? 0, paths);
  const concurrencySecondsPerOrder = worst((p) => {
    let s = 0;
    for (const [h, n] of Object.entries(p.invocations)) {
      const ms = p.durationsMs[h] ?? 0;
      // A full batch holds one environment for `waves` record times, shared by B orders.
      s += h === "processPayment" ? (waves * ms) / B / 1000 : (n * ms) / 1000;
    }
    return s;
  }, paths);
  add({
    id: "lambdaConcurrency",
    name: "Lambda concurrent executions (all functions; Little's law on measured durations)",
    kind: "quota",
    scope: "system",
    perOrder: round(concurrencySecondsPerOrder, 4),
    unit: "execution-seconds",
    quota: "lambdaConcurrentExecutions",
  });
  const invocationsPerOrder = worst(
    (p) => Object.entries(p.invocations).reduce((a, [h, n]) => a + (h === "processPayment" ? n / B : n), 0),
    paths,
  );
  add({
    id: "lambdaInvocations",
    name: "Lambda invocation requests per second",
    kind: "quota",
    scope: "system",
    perOrder: round(invocationsPerOrder, 2),
    unit: "invocations",
    quota: "lambdaInvocationsPerSecond",
  });
  const mappingConcurrency = Math.min(reg.maximumConcurrency, reg.reservedConcurrency ?? Infinity);
  const recordSeconds = recordMs / 1000;
  add({
    id: "paymentConsumer",
    name: `payment consumer: ${mappingConcurrency} invocations x ${c} records in flight (batch ${B}, record ${round(recordMs, 1)} ms)`,
    kind: "design",
    scope: "system",
    perOrder: round((waves * recordSeconds) / B, 5),
    unit: "invocation-seconds",
    limitDefault: mappingConcurrency,
    limitRequestable: mappingConcurrency,
  });

  // ---- Step Functions ----
  const sfn = (id: string, target: string, q: string) =>
    add({
      id,
      name: `Step Functions ${target}`,
      kind: "quota",
      scope: "system",
      perOrder: worst((p) => calls(p, `AWSStepFunctions.${target}`), paths),
      unit: "calls",
      quota: q,
    });
  sfn("sfnStartExecution", "StartExecution", "sfnStartExecution");
  sfn("sfnSendTaskHeartbeat", "SendTaskHeartbeat", "sfnSendTaskHeartbeat");
  sfn("sfnSendTaskSuccess", "SendTaskSuccess", "sfnSendTaskSuccess");
  sfn("sfnSendTaskFailure", "SendTaskFailure", "sfnSendTaskFailure");
  add({
    id: "sfnStateTransitions",
    name: "Step Functions state transitions (counted from the definition)",
    kind: "quota",
    scope: "system",
    perOrder: Math.max(cost.success.transitions, cost.failure.transitions),
    unit: "transitions",
    quota: "sfnStateTransitions",
  });

  // ---- API Gateway ----
  add({
    id: "apiGatewayAccount",
    name: "API Gateway account throttle (one POST per order)",
    kind: "quota",
    scope: "system",
    perOrder: 1,
    unit: "requests",
    quota: "apiGatewayAccountRps",
  });
  if (reg.stageRateLimit !== undefined) {
    add({
      id: "apiStageThrottle",
      name: "API stage throttle (registered method settings)",
      kind: "design",
      scope: "system",
      perOrder: 1,
      unit: "requests",
      limitDefault: reg.stageRateLimit,
      limitRequestable: reg.stageRateLimit,
    });
  }
  if (reg.usagePlanRateLimit !== undefined) {
    add({
      id: "apiUsagePlan",
      name: "usage plan rate per API key (config apiRateLimit; more clients, more keys)",
      kind: "design",
      scope: "per API key",
      perOrder: 1,
      unit: "requests",
      limitDefault: reg.usagePlanRateLimit,
      limitRequestable: reg.usagePlanRateLimit,
    });
  }

  // ---- DynamoDB ----
  for (const t of reg.tables) {
    const tableUnits = worst((p) => p.dynamo.tables[t.name]?.writeUnits ?? 0, paths);
    if (tableUnits === 0) continue;
    const short = t.name.replace(/^.*?-(orders|inventory|payments)(-[0-9a-f]+)?$/, "$1");
    add({
      id: `dynamodb-${short}-table`,
      name: `DynamoDB ${short} table: on-demand write throughput`,
      kind: "quota",
      scope: "system",
      perOrder: tableUnits,
      unit: "WRU",
      quota: "dynamodbTableOnDemandWrite",
    });
    if (t.hashKey === "sku") {
      // Every order of one product writes the same item (reserve, commit).
      add({
        id: `dynamodb-${short}-item`,
        name: `DynamoDB ${short} item of one SKU: one partition`,
        kind: "hard",
        scope: "per SKU",
        perOrder: tableUnits,
        unit: "WCU",
        quota: "dynamodbPartitionWrite",
      });
    }
    for (const index of t.indexes) {
      const key = `${t.name}/${index.name}`;
      const units = worst((p) => p.dynamo.indexes[key]?.writeUnits ?? 0, paths);
      if (units === 0) continue;
      add({
        id: `dynamodb-${short}-${index.name}`,
        name: `DynamoDB ${short}/${index.name}: on-demand write throughput`,
        kind: "quota",
        scope: "system",
        perOrder: units,
        unit: "WRU",
        quota: "dynamodbTableOnDemandWrite",
      });
      // The hottest key family; its orders spread over the shards by order id.
      const families = worst(
        (p) => Math.max(0, ...Object.values(p.dynamo.indexes[key]?.unitsByFamily ?? {})),
        paths,
      );
      const sharded = paths.success.dynamo.indexes[key]?.sharded === true;
      add({
        id: `dynamodb-${short}-${index.name}-partition`,
        name: `DynamoDB ${short}/${index.name}: hottest key value (${sharded ? `${reg.listShards} shards, one partition each` : "one partition"})`,
        kind: "design",
        scope: "system",
        perOrder: families / (sharded ? reg.listShards : 1),
        unit: "WCU",
        quota: "dynamodbPartitionWrite",
      });
    }
  }

  // ---- SNS ----
  add({
    id: "snsPublish",
    name: "SNS Publish (one per completed order)",
    kind: "quota",
    scope: "system",
    perOrder: 1,
    unit: "publishes",
    quota: "snsPublish",
  });

  const system = constraints.filter((x) => x.scope === "system");
  const min = (key: "ordersPerSecondDefault" | "ordersPerSecondRequestable") =>
    system.reduce((a, b) => (b[key] < a[key] ? b : a));
  const binding = min("ordersPerSecondRequestable");
  const bindingDefault = min("ordersPerSecondDefault");
  const design = system.filter((x) => x.kind === "design");
  const rate = binding.ordersPerSecondRequestable;

  const mustRequest = system
    .filter((x) => x.kind === "quota" && x.ordersPerSecondDefault < TARGET_ORDERS_PER_SECOND && x.quota)
    .map((x) => ({
      quota: x.quota!,
      name: quota(x.quota!).name,
      default: x.limitDefault,
      needed: Math.ceil(x.perOrder * TARGET_ORDERS_PER_SECOND),
      unit: quota(x.quota!).unit,
    }));

  const handlersMs = Object.values(paths.success.durationsMs).reduce((a, b) => a + b, 0);
  const lambdaConcurrency = Math.ceil(rate * concurrencySecondsPerOrder);
  const paymentConcurrency = Math.ceil((rate * waves * recordSeconds) / B);
  return {
    region: q.region,
    quotasAsOf: q.asOf,
    target: TARGET_ORDERS_PER_SECOND,
    ordersPerSecond: rate,
    ordersPerSecondDefaultQuotas: bindingDefault.ordersPerSecondDefault,
    binding: binding.name,
    bindingIsDesignLimit: binding.kind === "design",
    bindingDefaultQuotas: bindingDefault.name,
    bindingDefaultQuotasIsDesignLimit: bindingDefault.kind === "design",
    designCeilingOrdersPerSecond: Math.min(...design.map((x) => x.ordersPerSecondRequestable)),
    mustRequest,
    atRate: {
      ordersPerSecond: rate,
      latencyMs: { handlers: round(handlersMs, 1), batchingWindowMax: reg.batchingWindowSeconds * 1000 },
      inFlightOrders: Math.ceil((rate * handlersMs) / 1000),
      lambdaConcurrency,
      rampSeconds: Math.ceil(paymentConcurrency / quota("lambdaScalingRate").default!),
      costPerMillionOrders: cost.success.totalPerMillion,
      costPerHour: round((rate * 3600 * cost.success.totalPerMillion) / 1e6, 2),
    },
    inputs: {
      registered: reg,
      measured: {
        recordMs,
        durationsMs: { success: paths.success.durationsMs, failure: paths.failure.durationsMs },
        invocations: { success: paths.success.invocations, failure: paths.failure.invocations },
        requests: { success: paths.success.requests, failure: paths.failure.requests },
        dynamo: { success: paths.success.dynamo, failure: paths.failure.dynamo },
      },
    },
    constraints,
  };
}

const fmt = (n: number) => (Number.isFinite(n) ? n.toLocaleString("en-US") : "∞");

/** The capacity section of latest.md (also the README's table). */
export function capacityMarkdown(c: CapacityFigure): string {
  const lines = [
    `**5. Capacity on AWS** (model: registered resources + one order per path measured offline + bench/quotas/${c.region}.json of ${c.quotasAsOf}; \`verified\` = read in an AWS document, otherwise from memory):`,
    "",
    "| constraint | kind | scope | per order | orders/s at default quotas | orders/s at requestable quotas | verified |",
    "|---|---|---|---:|---:|---:|---|",
    ...[...c.constraints]
      .sort((a, b) => a.ordersPerSecondRequestable - b.ordersPerSecondRequestable)
      .map(
        (x) =>
          `| ${x.name} | ${x.kind} | ${x.scope} | ${round(x.perOrder, 4)} ${x.unit} | ${fmt(x.ordersPerSecondDefault)} | ${fmt(x.ordersPerSecondRequestable)} | ${x.verified === undefined ? "" : x.verified ? "yes" : "no"} |`,
      ),
    "",
    `- **Sustained at requestable quotas: ${fmt(c.ordersPerSecond)} orders/s**, bound by ${c.binding} (${c.bindingIsDesignLimit ? "a design limit" : "not a design limit"}); target ≥ ${fmt(c.target)} ${c.ordersPerSecond >= c.target && !c.bindingIsDesignLimit ? "✅" : "❌"}.`,
    `- At default quotas: ${fmt(c.ordersPerSecondDefaultQuotas)} orders/s, bound by ${c.bindingDefaultQuotas} (${c.bindingDefaultQuotasIsDesignLimit ? "a design limit ❌" : "not a design limit ✅"}). The design's own ceiling (lowest design constraint): ${fmt(c.designCeilingOrdersPerSecond)} orders/s.`,
    `- To run ${fmt(c.target)} orders/s, request: ${c.mustRequest.length ? c.mustRequest.map((m) => `${m.name}: ${fmt(m.default)} → ≥ ${fmt(m.needed)} ${m.unit}`).join("; ") : "nothing"}.`,
    `- At ${fmt(c.atRate.ordersPerSecond)} orders/s: handler time ${c.atRate.latencyMs.handlers} ms per order plus up to ${c.atRate.latencyMs.batchingWindowMax} ms of batching window (Step Functions and SQS delivery latency on AWS are not modelled); ${fmt(c.atRate.inFlightOrders)} orders in handlers at once, ${fmt(c.atRate.lambdaConcurrency)} Lambda executions (Little's law), reached in about ${c.atRate.rampSeconds} s of scaling; $${c.atRate.costPerMillionOrders} per million orders = $${fmt(c.atRate.costPerHour)} per hour.`,
  ];
  return lines.join("\n") + "\n";
}

const SECTION = /\n\*\*5\. Capacity on AWS\*\*[\s\S]*$/;

async function main(): Promise<void> {
  const { captureProgram } = await import("../program/capture");
  const { measurePaths } = await import("./pipeline");
  const { benchCost } = await import("./cost");
  const all = await captureProgram();
  const paths = await measurePaths();
  const emailSubscribers = all.filter(
    (r) => r.type === "aws:sns/topicSubscription:TopicSubscription" && r.inputs.protocol === "email",
  ).length;
  const cost = benchCost(all, paths, { emailSubscribers });
  const capacity = benchCapacity(all, paths, cost);
  const md = capacityMarkdown(capacity);
  process.stdout.write(`${md}\n`);
  const dir = path.join(__dirname, "results");
  const jsonPath = path.join(dir, "latest.json");
  if (fs.existsSync(jsonPath)) {
    const latest = JSON.parse(fs.readFileSync(jsonPath, "utf8")) as Record<string, unknown>;
    latest.capacity = { ...capacity, measuredAt: new Date().toISOString(), measuredAlone: true };
    fs.writeFileSync(jsonPath, JSON.stringify(latest, null, 2) + "\n");
    const mdPath = path.join(dir, "latest.md");
    const previous = fs.existsSync(mdPath) ? fs.readFileSync(mdPath, "utf8").replace(SECTION, "\n") : "";
    fs.writeFileSync(mdPath, `${previous.trimEnd()}\n\n${md}`);
    process.stdout.write("updated the capacity key of bench/results/latest.json and latest.md\n");
  }
  process.exit(0);
}

if (require.main === module) {
  main().catch((err: Error) => {
    process.stderr.write(`capacity bench failed: ${err.stack ?? err.message}\n`);
    process.exit(1);
  });
}
