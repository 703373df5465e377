/**
 * Part 3: the offline pipeline end to end. The system runs in a child process
 * (bench/pipelineServer.ts); this process is the client:
 *   1. one order on the success path and one declined (`tok_decline`), each alone, to count the
 *      AWS calls and Lambda invocations one order needs (DynamoDB writes give the limit);
 *   2. autocannon offers orders at the limit's rate for LOAD_SECONDS (the throughput figure), then
 *      at half of it for HALF_LOAD_SECONDS (the target rate: latency without a growing backlog);
 *      after each, the run waits until every accepted order has ended (or DRAIN_MS passes).
 * Throughput = orders COMPLETED / (last completion - first accepted POST). Latency is per order,
 * from createOrder accepting it to send_notification marking it COMPLETED (server side, so the
 * client's polling never adds load). Limit = dynalite's raw write rate / writes per order.
 */
import { fork, type ChildProcess } from "node:child_process";
import * as path from "node:path";
import { BENCH_SKU, median, quantile, ratio, round } from "./stats";
import type { DynamoUse } from "./dynamoUse";
import type { Counters } from "./pipelineServer";

// eslint-disable-next-line @typescript-eslint/no-require-imports
const autocannon = require("autocannon") as (opts: Record<string, unknown>) => Promise<AutocannonResult>;

interface AutocannonResult {
  requests: { total: number; average: number };
  latency: { p50: number; p99: number };
  errors: number;
  timeouts: number;
  non2xx: number;
  "2xx": number;
}

const LOAD_SECONDS = 15;
const HALF_LOAD_SECONDS = 10;
const CONNECTIONS = 8;
const DRAIN_MS = 45_000;
const WRITE_OPS = ["PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"];
const READ_OPS = ["GetItem", "Query", "Scan", "BatchGetItem"];

/** What the offline system in the child process counted (see pipelineServer.ts), plus in-flight orders. */
type Counts = Counters & { inFlight: number };

export interface PathCounts {
  dynamoWrites: number;
  dynamoReads: number;
  requests: Record<string, number>;
  invocations: Record<string, number>;
  logBytes: number;
  durationsMs: Record<string, number>;
  /** Per table and per index (bench/dynamoUse.ts). */
  dynamo: DynamoUse;
}

export interface PipelineFigure {
  rawWritesPerSecond: number;
  writesPerOrder: number;
  limitOrdersPerSecond: number;
  /** atLimit.ordersPerSecond / limitOrdersPerSecond. */
  ratioToLimit: number;
  /** Offered at the limit's rate: the throughput figure. */
  atLimit: LoadPhase;
  /** Offered at half the limit (the target): latency without a backlog. */
  atHalf: LoadPhase;
  /** One order alone on each path: calls, invocations and each handler's duration on that path. */
  success: PathCounts;
  failure: PathCounts;
  /** Configured memory per handler (MB). */
  memoryMb: Record<string, number>;
}

/** Errors of both load phases; a DLQ depth that could not be read counts as an error. */
export function errorCount(p: Pick<PipelineFigure, "atLimit" | "atHalf">): number {
  return [p.atLimit, p.atHalf].reduce(
    (sum, phase) => sum + Object.values(phase.errors).reduce<number>((a, b) => a + (b ?? 1), 0),
    0,
  );
}

function opCount(requests: Record<string, number>, ops: string[]): number {
  return Object.entries(requests)
    .filter(([target]) => target.startsWith("DynamoDB_") && ops.some((op) => target.endsWith(`.${op}`)))
    .reduce((sum, [, n]) => sum + n, 0);
}

class Server {
  private waiters: ((m: Record<string, unknown>) => void)[] = [];
  constructor(readonly child: ChildProcess) {
    child.on("message", (m: Record<string, unknown>) => this.waiters.shift()?.(m));
  }
  ask<T>(cmd: string): Promise<T> {
    return new Promise((resolve) => {
      this.waiters.push(resolve as (m: Record<string, unknown>) => void);
      this.child.send({ cmd });
    });
  }
  counts = async () => (await this.ask<{ counts: Counts }>("counts")).counts;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function orderBody(token: string): string {
  return JSON.stringify({
    customer: { email: "bench@example.com", name: "Bench" },
    items: [{ sku: BENCH_SKU, quantity: 1 }],
    payment: { token },
  });
}

/** Until `target` orders have ended (calibration), or every accepted order has (target 0). */
async function untilDone(server: Server, target: number, timeoutMs: number): Promise<Counts> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const c = await server.counts();
    const done = target > 0 ? c.completed + c.failed >= target : c.inFlight === 0;
    if (done || Date.now() > deadline) return c;
    await sleep(50);
  }
}

async function onePath(server: Server, url: string, apiKey: string, token: string): Promise<PathCounts> {
  await server.ask("resetAndAccount"); // per-table DynamoDB use is counted for this one order
  const res = await fetch(`${url}/orders`, {
    method: "POST",
    headers: { "x-api-key": apiKey, "content-type": "application/json" },
    body: orderBody(token),
  });
  if (res.status !== 201) throw new Error(`calibration POST answered ${res.status}: ${await res.text()}`);
  await untilDone(server, 1, 30_000);
  await sleep(750); // trailing writes (notifiedAt, execution end) and idle polls settle
  const c = await server.counts();
  if (c.completed + c.failed !== 1) throw new Error(`calibration order (${token}) did not finish`);
  return {
    dynamoWrites: opCount(c.requests, WRITE_OPS),
    dynamoReads: opCount(c.requests, READ_OPS),
    requests: Object.fromEntries(Object.entries(c.requests).filter(([k]) => !k.includes("ReceiveMessage"))),
    invocations: c.invocations,
    logBytes: c.logBytes,
    durationsMs: Object.fromEntries(Object.entries(c.durationsMs).map(([h, d]) => [h, round(median(d), 1)])),
    dynamo: c.dynamo,
  };
}

export interface LoadPhase {
  offeredPerSecond: number;
  seconds: number;
  posted: number;
  created: number;
  completed: number;
  ordersPerSecond: number;
  latencyMs: { p50: number; p99: number };
  postLatencyMs: { p50: number; p99: number };
  errors: {
    http: number;
    non2xx: number;
    timeouts: number;
    failedOrders: number;
    invokeErrors: number;
    notCompleted: number;
    /** Messages in the DLQ after the phase; null when the depth could not be read. */
    dlq: number | null;
  };
  /** Median duration per handler (ms). */
  durations: Record<string, number>;
}

/** autocannon at a fixed offered rate for `seconds`, then wait for every accepted order to end. */
async function loadPhase(
  server: Server,
  ready: { url: string; apiKey: string },
  offeredPerSecond: number,
  seconds: number,
): Promise<LoadPhase> {
  await server.ask("reset");
  const result = await autocannon({
    url: `${ready.url}/orders`,
    method: "POST",
    headers: { "x-api-key": ready.apiKey, "content-type": "application/json" },
    body: orderBody("tok_visa"),
    connections: CONNECTIONS,
    overallRate: offeredPerSecond,
    duration: seconds,
  });
  // POSTs cut off at the end of the run may still create orders: let them land, then drain.
  await sleep(1000);
  const c = await untilDone(server, 0, DRAIN_MS);
  const dlq = (await server.ask<{ messages: number | null }>("dlq")).messages;
  const span = (c.lastDone - c.firstStart) / 1000;
  return {
    offeredPerSecond,
    seconds,
    posted: result.requests.total,
    created: c.created,
    completed: c.completed,
    ordersPerSecond: round(c.completed / span, 1),
    latencyMs: { p50: quantile(c.latenciesMs, 0.5), p99: quantile(c.latenciesMs, 0.99) },
    postLatencyMs: { p50: result.latency.p50, p99: result.latency.p99 },
    errors: {
      http: result.errors,
      non2xx: result.non2xx,
      timeouts: result.timeouts,
      failedOrders: c.failed,
      invokeErrors: c.invokeErrors,
      notCompleted: c.created - c.completed - c.failed,
      dlq,
    },
    durations: Object.fromEntries(Object.entries(c.durationsMs).map(([h, d]) => [h, round(median(d), 1)])),
  };
}

function describe(label: string, p: LoadPhase, limit: number): string {
  const errors = Object.values(p.errors).reduce<number>((a, b) => a + (b ?? 1), 0);
  return (
    `  ${label} (${p.offeredPerSecond}/s offered, ${p.seconds} s): ${p.completed}/${p.created} COMPLETED, ${p.ordersPerSecond}/s ` +
    `(${ratio(p.ordersPerSecond, limit)}x the limit), p50 ${p.latencyMs.p50} ms, p99 ${p.latencyMs.p99} ms, errors ${errors}`
  );
}

interface Ready {
  url: string;
  apiKey: string;
  rawWritesPerSecond: number;
  memory: Record<string, number>;
  startMs: number;
}

/** Runs `body` against the offline system in a child process, and stops it after. */
async function withServer<T>(body: (server: Server, ready: Ready) => Promise<T>): Promise<T> {
  const child = fork(path.join(__dirname, "pipelineServer.ts"), [], {
    execArgv: ["-r", "ts-node/register/transpile-only"],
    env: { ...process.env, TS_NODE_TRANSPILE_ONLY: "true" },
    stdio: ["ignore", "inherit", "pipe", "ipc"],
  });
  let stderr = "";
  child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
  const server = new Server(child);
  try {
    const ready = await new Promise<Ready>((resolve, reject) => {
      child.once("message", (m: { type: string }) =>
        m.type === "ready" ? resolve(m as never) : reject(new Error(String(m.type))),
      );
      child.once("exit", (code) =>
        reject(new Error(`pipeline server exited ${code}:\n${stderr.slice(-2000)}`)),
      );
    });
    // The first message went to the once() above, not to Server: nothing is waiting yet.
    return await body(server, ready);
  } finally {
    if (child.connected) child.send({ cmd: "stop" });
    if (child.exitCode === null) {
      await Promise.race([new Promise((r) => child.once("exit", r)), sleep(5000)]);
      if (child.exitCode === null) child.kill("SIGKILL");
    }
  }
}

/**
 * One order alone on each path, without the load phases (bench/capacity.ts run on its own):
 * `repeats` orders per path after a warm-up one; calls and DynamoDB use from the last (they do
 * not vary), each handler's duration the median over the repeats (a shared machine is noisy).
 */
export function measurePaths(repeats = 5): Promise<Pick<PipelineFigure, "success" | "failure" | "memoryMb">> {
  return withServer(async (server, ready) => {
    const measure = async (token: string): Promise<PathCounts> => {
      await onePath(server, ready.url, ready.apiKey, token);
      const runs: PathCounts[] = [];
      for (let i = 0; i < repeats; i++) runs.push(await onePath(server, ready.url, ready.apiKey, token));
      const last = runs[runs.length - 1];
      const durationsMs = Object.fromEntries(
        Object.keys(last.durationsMs).map((h) => [
          h,
          round(median(runs.map((r) => r.durationsMs[h] ?? 0)), 1),
        ]),
      );
      return { ...last, durationsMs };
    };
    return {
      success: await measure("tok_visa"),
      failure: await measure("tok_decline"),
      memoryMb: ready.memory,
    };
  });
}

export function benchPipeline(log: (s: string) => void): Promise<PipelineFigure> {
  return withServer(async (server, ready) => {
    log(
      `  offline system up in ${ready.startMs} ms; dynalite raw conditional writes: ${Math.round(ready.rawWritesPerSecond)}/s`,
    );

    const success = await onePath(server, ready.url, ready.apiKey, "tok_visa");
    const failure = await onePath(server, ready.url, ready.apiKey, "tok_decline");
    const writesPerOrder = success.dynamoWrites;
    const limit = ready.rawWritesPerSecond / writesPerOrder;
    log(
      `  one order: ${success.dynamoWrites} DynamoDB writes, ${success.dynamoReads} reads (declined: ${failure.dynamoWrites} / ${failure.dynamoReads}); limit ${limit.toFixed(1)} orders/s`,
    );

    const atLimit = await loadPhase(server, ready, Math.max(1, Math.ceil(limit)), LOAD_SECONDS);
    log(describe("at the limit's rate", atLimit, limit));
    const atHalf = await loadPhase(server, ready, Math.max(1, Math.round(limit / 2)), HALF_LOAD_SECONDS);
    log(describe("at half the limit's rate", atHalf, limit));
    return {
      rawWritesPerSecond: round(ready.rawWritesPerSecond, 0),
      writesPerOrder,
      limitOrdersPerSecond: round(limit, 1),
      ratioToLimit: ratio(atLimit.ordersPerSecond, limit),
      atLimit,
      atHalf,
      success,
      failure,
      memoryMb: ready.memory,
    };
  });
}
