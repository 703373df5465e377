/**
 * Starting the offline system inside a spec, and talking to it the way a client does: Node's
 * fetch over real HTTP. Handler log lines (JSON on stdout/stderr) are held back while a system
 * runs and shown only for a failing test.
 */
import { unmarshall } from "@aws-sdk/util-dynamodb";
import type { AttributeValue } from "@aws-sdk/client-dynamodb";
import { startOfflineSystem, type OfflineOptions, type OfflineSystem } from "../../../local/system";
import type { OrderView } from "../../../functions/shared/types";

/**
 * Short timings: every timeout path finishes in seconds. The order matters as on AWS:
 * heartbeat > visibility (a redelivery heartbeats in time), and callback timeout >
 * visibility x maxReceiveCount (5), so a poison message reaches the DLQ before the workflow gives
 * up (after that the consumer acknowledges it, as the order is FAILED).
 */
export const E2E_TIMINGS = {
  callbackTimeoutSeconds: 16,
  heartbeatSeconds: 5,
  // 2 s, not 1: on a loaded 2-core machine a 1 s visibility redelivers messages still in work.
  visibilityTimeoutSeconds: 2,
  maxRetryIntervalSeconds: 1,
};

const held: string[] = [];
let restore: (() => void) | undefined;

function holdHandlerLogs(): void {
  if (restore) return;
  const out = process.stdout.write.bind(process.stdout);
  const err = process.stderr.write.bind(process.stderr);
  const filter =
    (write: typeof out) =>
    (chunk: string | Uint8Array, ...rest: unknown[]): boolean => {
      const text = typeof chunk === "string" ? chunk : Buffer.from(chunk).toString("utf8");
      if (text.startsWith('{"level":') || text.includes("NodeVersionSupportWarning")) {
        held.push(text.trimEnd());
        if (held.length > 400) held.splice(0, held.length - 400);
        return true;
      }
      return (write as (c: string | Uint8Array, ...r: unknown[]) => boolean)(chunk, ...rest);
    };
  process.stdout.write = filter(out) as typeof process.stdout.write;
  process.stderr.write = filter(err) as typeof process.stderr.write;
  restore = () => {
    process.stdout.write = out;
    process.stderr.write = err;
    restore = undefined;
  };
}

/** The last held log lines (for a failing test's report). */
export function recentLogs(n = 60): string {
  return held.slice(-n).join("\n");
}

/** Prints the last held log lines past the filter (afterEach of a failed test). */
export function showRecentLogs(n = 60): void {
  originalStdoutWrite(`--- last ${n} handler/runtime log lines ---\n${recentLogs(n)}\n`);
}

const originalStdoutWrite = process.stdout.write.bind(process.stdout);

export async function startForTest(options: OfflineOptions = {}): Promise<OfflineSystem> {
  holdHandlerLogs();
  return startOfflineSystem({ logLevel: "warn", throttle: false, timings: E2E_TIMINGS, ...options });
}

export async function stopForTest(system: OfflineSystem | undefined): Promise<void> {
  await system?.stop();
  restore?.();
}

/**
 * A spec's system: started before its tests, stopped after them, the recent log lines shown for
 * a failed test. Returns a getter (the system exists only once `before` has run).
 */
export function useOfflineSystem(options: OfflineOptions = {}, logLines = 60): () => OfflineSystem {
  let system: OfflineSystem | undefined;
  before(async function () {
    this.timeout(120_000);
    system = await startForTest(options);
  });
  after(async () => stopForTest(system));
  afterEach(function () {
    if (this.currentTest?.state === "failed") showRecentLogs(logLines);
  });
  return () => {
    if (!system) throw new Error("the offline system is not running (used outside a test?)");
    return system;
  };
}

export interface Reply<T = unknown> {
  status: number;
  headers: Headers;
  text: string;
  json: T;
}

export async function call<T = unknown>(
  system: OfflineSystem,
  method: string,
  path: string,
  opts: {
    body?: unknown;
    rawBody?: string | Buffer;
    headers?: Record<string, string>;
    apiKey?: string | null;
  } = {},
): Promise<Reply<T>> {
  const headers: Record<string, string> = { ...(opts.headers ?? {}) };
  const key = opts.apiKey === undefined ? system.apiKey : opts.apiKey;
  if (key !== null) headers["x-api-key"] = key;
  let body: string | Buffer | undefined = opts.rawBody;
  if (opts.body !== undefined) {
    body = JSON.stringify(opts.body);
    headers["content-type"] ??= "application/json";
  }
  const res = await fetch(system.url + path, { method, headers, body });
  const text = await res.text();
  let json: unknown = undefined;
  try {
    json = JSON.parse(text);
  } catch {
    // Not JSON: tests that care look at `text`.
  }
  return { status: res.status, headers: res.headers, text, json: json as T };
}

export function orderBody(
  items: { sku: string; quantity: number }[],
  token = "tok_visa",
  email = "ada@example.com",
) {
  return { customer: { email, name: "Ada" }, items, payment: { token } };
}

export async function placeOrder(
  system: OfflineSystem,
  items: { sku: string; quantity: number }[],
  token = "tok_visa",
): Promise<OrderView> {
  const r = await call<OrderView>(system, "POST", "/orders", { body: orderBody(items, token) });
  if (r.status !== 201) throw new Error(`POST /orders answered ${r.status}: ${r.text}`);
  return r.json;
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Waits for the order's workflow execution to end, then returns the order as the API shows it
 * (one GET). compensate_order marks the order FAILED first and adds `refunded` / `restocked` as
 * it undoes things, so the execution's end, not the status, is what "settled" means.
 */
export async function waitForTerminal(
  system: OfflineSystem,
  orderId: string,
  timeoutMs = 30_000,
): Promise<OrderView> {
  const execution = [...system.sfn.executions.values()].find((e) => e.name === orderId);
  if (!execution) throw new Error(`order ${orderId} has no workflow execution`);
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      execution.done,
      new Promise((_, reject) => {
        timer = setTimeout(
          () =>
            reject(
              new Error(`execution of order ${orderId} still ${execution.status} after ${timeoutMs} ms`),
            ),
          timeoutMs,
        );
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
  const r = await call<OrderView>(system, "GET", `/orders/${orderId}`);
  if (r.status !== 200 || (r.json.status !== "COMPLETED" && r.json.status !== "FAILED"))
    throw new Error(`order ${orderId}: execution ${execution.status}, GET answered ${r.status} ${r.text}`);
  return r.json;
}

/** Waits until every workflow execution started so far has ended. */
export async function waitForExecutions(system: OfflineSystem, timeoutMs = 60_000): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      system.sfn.drain(),
      new Promise((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`executions still running after ${timeoutMs} ms`)),
          timeoutMs,
        );
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

export async function items<T = Record<string, unknown>>(system: OfflineSystem, table: string): Promise<T[]> {
  return (await system.dynamo.scanAll(table)).map(
    (i) => unmarshall(i as Record<string, AttributeValue>) as T,
  );
}

export async function stockOf(system: OfflineSystem, sku: string): Promise<number> {
  const all = await items<{ sku: string; stock: number }>(system, system.tables.inventory);
  const item = all.find((i) => i.sku === sku);
  if (!item) throw new Error(`no SKU ${sku}`);
  return item.stock;
}

/** Items in each table: what "writes nothing" is measured with. */
export async function tableCounts(system: OfflineSystem): Promise<Record<string, number>> {
  const t = system.tables;
  return {
    orders: await system.dynamo.count(t.orders),
    inventory: await system.dynamo.count(t.inventory),
    payments: await system.dynamo.count(t.payments),
  };
}
