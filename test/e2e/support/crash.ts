/**
 * crash.spec.ts helpers: a seeded random source, the offline system as a child process that can
 * be SIGKILLed whole, and the invariant of issue 12 checked from the tables and the API.
 */
import { spawn, type ChildProcess } from "node:child_process";
import * as path from "node:path";
import { DynamoDBClient, ScanCommand, type AttributeValue } from "@aws-sdk/client-dynamodb";
import { unmarshall } from "@aws-sdk/util-dynamodb";
import type { LedgerEntry } from "../../../functions/shared/ledger";
import type { Order, OrderView } from "../../../functions/shared/types";
import type { StartupRecovery } from "../../../local/recovery";

/** --fast's shape, shorter still: a restarted order settles in a second or two. */
export const CRASH_TIMINGS = {
  callbackTimeoutSeconds: 16,
  heartbeatSeconds: 5,
  visibilityTimeoutSeconds: 2,
  maxRetryIntervalSeconds: 1,
};

/** mulberry32: small, seedable, good enough to pick moments and orders. */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface Running {
  child: ChildProcess;
  url: string;
  dynamo: DynamoDBClient;
  recovery: StartupRecovery;
  /** The child's last output lines (for a failure report). */
  tail(): string;
}

const ROOT = path.join(__dirname, "..", "..", "..");

/** Starts the child in its own process group (so a kill takes everything it started). */
export function startChild(
  topologyFile: string,
  dataDir: string,
  apiKey: string,
  timeoutMs = 60_000,
): Promise<Running> {
  const child = spawn(
    process.execPath,
    ["-r", "./local/register.js", "test/e2e/support/crashChild.ts", topologyFile, dataDir, apiKey],
    { cwd: ROOT, detached: true, stdio: ["ignore", "pipe", "pipe"] },
  );
  const lines: string[] = [];
  const keep = (chunk: Buffer) => {
    lines.push(...chunk.toString("utf8").split("\n").filter(Boolean));
    if (lines.length > 200) lines.splice(0, lines.length - 200);
  };
  child.stderr!.on("data", keep);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      killGroup(child);
      reject(new Error(`child not ready in ${timeoutMs} ms:\n${lines.slice(-30).join("\n")}`));
    }, timeoutMs);
    let buffered = "";
    child.stdout!.on("data", (chunk: Buffer) => {
      keep(chunk);
      buffered += chunk.toString("utf8");
      const at = buffered.indexOf('{"ready":');
      if (at < 0) {
        buffered = buffered.slice(-20);
        return;
      }
      const end = buffered.indexOf("\n", at);
      if (end < 0) return;
      const { ready } = JSON.parse(buffered.slice(at, end)) as {
        ready: { url: string; dynamo: string; recovery: StartupRecovery };
      };
      buffered = "";
      clearTimeout(timer);
      resolve({
        child,
        url: ready.url,
        recovery: ready.recovery,
        dynamo: new DynamoDBClient({
          endpoint: ready.dynamo,
          region: "us-east-1",
          credentials: { accessKeyId: "crash", secretAccessKey: "crash" },
          maxAttempts: 1,
        }),
        tail: () => lines.slice(-40).join("\n"),
      });
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`child exited (${code}) before ready:\n${lines.slice(-30).join("\n")}`));
    });
  });
}

/** SIGKILL to the child's whole process group; resolves once the child is gone. */
export function killGroup(child: ChildProcess, signal: NodeJS.Signals = "SIGKILL"): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once("exit", () => resolve());
    try {
      process.kill(-child.pid!, signal);
    } catch {
      resolve();
    }
  });
}

export async function scan<T>(dynamo: DynamoDBClient, table: string): Promise<T[]> {
  const out: T[] = [];
  let start: Record<string, AttributeValue> | undefined;
  do {
    const page = await dynamo.send(
      new ScanCommand({ TableName: table, ConsistentRead: true, ExclusiveStartKey: start }),
    );
    out.push(...(page.Items ?? []).map((i) => unmarshall(i) as T));
    start = page.LastEvaluatedKey;
  } while (start);
  return out;
}

export interface Tables {
  orders: Order[];
  ledger: LedgerEntry[];
  stock: { sku: string; stock: number; reservations?: Record<string, number> }[];
}

/**
 * The invariant, from the tables: every problem as one line (empty: it holds).
 * `seed`: stock per SKU before any order; `accepted`: every order a client got a 201 for.
 */
export function violations(t: Tables, seed: Record<string, number>, accepted: Set<string>): string[] {
  const problems: string[] = [];
  const byId = new Map(t.orders.map((o) => [o.orderId, o]));
  for (const id of accepted) if (!byId.has(id)) problems.push(`accepted order ${id} is not in the table`);
  for (const o of t.orders)
    if (o.status !== "COMPLETED" && o.status !== "FAILED") problems.push(`${o.orderId} is ${o.status}`);

  const entries = (kind: string) => t.ledger.filter((e) => e.entry === kind);
  const perOrder = new Map<string, string[]>();
  for (const e of t.ledger) perOrder.set(e.orderId, [...(perOrder.get(e.orderId) ?? []), e.entry]);
  for (const [id, kinds] of perOrder) {
    for (const kind of ["CHARGE", "REFUND"])
      if (kinds.filter((k) => k === kind).length > 1) problems.push(`${id} has ${kind} twice`);
    const o = byId.get(id);
    if (kinds.includes("CHARGE") && o?.status === "COMPLETED" && kinds.includes("REFUND"))
      problems.push(`${id} is COMPLETED and refunded`);
    if (kinds.includes("CHARGE") && o?.status === "FAILED" && !kinds.includes("REFUND"))
      problems.push(`${id} is FAILED and still charged`);
  }
  const sum = (kind: string) => entries(kind).reduce((n, e) => n + e.amount, 0);
  const completed = t.orders.filter((o) => o.status === "COMPLETED");
  const totals = completed.reduce((n, o) => n + o.total.amount, 0);
  if (sum("CHARGE") - sum("REFUND") !== totals)
    problems.push(`charges ${sum("CHARGE")} - refunds ${sum("REFUND")} != COMPLETED totals ${totals}`);
  for (const o of completed) {
    const charge = t.ledger.find((e) => e.orderId === o.orderId && e.entry === "CHARGE");
    if (
      !charge ||
      charge.entry !== "CHARGE" ||
      charge.chargeId !== o.chargeId ||
      charge.amount !== o.total.amount
    )
      problems.push(`${o.orderId} COMPLETED without its own charge`);
  }
  for (const o of t.orders.filter((x) => x.status === "FAILED")) {
    if (!o.failure) problems.push(`${o.orderId} FAILED without a failure record`);
    else if (o.failure.refunded !== (perOrder.get(o.orderId) ?? []).includes("REFUND"))
      problems.push(`${o.orderId} failure.refunded=${o.failure.refunded} disagrees with the ledger`);
  }

  for (const [sku, initial] of Object.entries(seed)) {
    const record = t.stock.find((s) => s.sku === sku);
    const sold = completed
      .flatMap((o) => o.items)
      .filter((i) => i.sku === sku)
      .reduce((n, i) => n + i.quantity, 0);
    if (!record) problems.push(`${sku} vanished`);
    else if (record.stock + sold !== initial)
      problems.push(`${sku}: stock ${record.stock} + sold ${sold} != seed ${initial}`);
    for (const holder of Object.keys(record?.reservations ?? {})) {
      const o = byId.get(holder);
      problems.push(`${sku} still reserved for ${holder} (${o?.status ?? "unknown order"})`);
    }
  }
  return problems;
}

/** `GET /orders/{id}` and the listings (all, and by status) must say the same as each other. */
export async function apiDisagreements(url: string, apiKey: string, orders: Order[]): Promise<string[]> {
  const get = async <T>(p: string): Promise<T> => {
    const res = await fetch(`${url}${p}`, { headers: { "x-api-key": apiKey } });
    if (res.status !== 200) throw new Error(`GET ${p}: ${res.status} ${await res.text()}`);
    return (await res.json()) as T;
  };
  const list = async (query: string) => {
    const seen = new Map<string, OrderView>();
    let next: string | undefined;
    do {
      const page = await get<{ items: OrderView[]; nextToken?: string }>(
        `/orders?limit=100${query}${next ? `&nextToken=${encodeURIComponent(next)}` : ""}`,
      );
      for (const o of page.items) seen.set(o.orderId, o);
      next = page.nextToken;
    } while (next);
    return seen;
  };
  const problems: string[] = [];
  const all = await list("");
  const byStatus = new Map<string, Map<string, OrderView>>();
  for (const s of ["NEW", "PROCESSING", "PAID", "COMPLETED", "FAILED"])
    byStatus.set(s, await list(`&status=${s}`));
  for (const o of orders) {
    const one = await get<OrderView>(`/orders/${o.orderId}`);
    if (one.status !== o.status) problems.push(`${o.orderId}: GET says ${one.status}, the table ${o.status}`);
    if (all.get(o.orderId)?.status !== one.status)
      problems.push(
        `${o.orderId}: GET says ${one.status}, the listing ${all.get(o.orderId)?.status ?? "nothing"}`,
      );
    for (const [status, listed] of byStatus) {
      if ((status === one.status) !== listed.has(o.orderId))
        problems.push(
          `${o.orderId}: GET says ${one.status}, ?status=${status} ${listed.has(o.orderId) ? "lists" : "misses"} it`,
        );
    }
    if (JSON.stringify(one.failure) !== JSON.stringify(all.get(o.orderId)?.failure))
      problems.push(`${o.orderId}: failure differs between GET and the listing`);
  }
  if (all.size !== orders.length)
    problems.push(`the listing has ${all.size} orders, the table ${orders.length}`);
  return problems;
}
