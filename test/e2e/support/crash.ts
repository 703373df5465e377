/**
 * crash.spec.ts helpers: a seeded random source, the offline system as a child process that can
 * be SIGKILLed whole, the tables as the invariant (test/support/invariant.ts) reads them, and
 * the API checked against them.
 */
import { spawn, type ChildProcess } from "node:child_process";
import * as path from "node:path";
import { DynamoDBClient, ScanCommand, type AttributeValue } from "@aws-sdk/client-dynamodb";
import { unmarshall } from "@aws-sdk/util-dynamodb";
import type { Order, OrderView } from "../../../functions/shared/types";
import type { StartupRecovery } from "../../../local/recovery";

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
