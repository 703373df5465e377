/**
 * The offline system under load, in its own process (forked by bench/pipeline.ts, which drives it
 * with autocannon from the parent process). It counts, without touching local/ or functions/:
 *   - every AWS API request that reaches an emulator, by `x-amz-target` (DynamoDB PutItem,
 *     UpdateItem, GetItem..., SQS, Step Functions), from the HTTP servers' `request` events;
 *   - every Lambda invocation and its duration (LocalFunctions.invoke wrapped);
 *   - each order's life: createOrder's 201 starts it, sendNotification's return (the PAID ->
 *     COMPLETED transition is its first write) ends it as COMPLETED, compensateOrder's as FAILED;
 *   - the bytes handlers log (structured JSON lines on stdout), for CloudWatch Logs ingestion.
 * Before the system takes orders it measures dynalite's raw write rate: conditional UpdateItems in
 * a tight loop (16 in flight) for WRITE_PROBE_MS against a scratch table.
 */
import * as http from "node:http";
import { CreateTableCommand, UpdateItemCommand } from "@aws-sdk/client-dynamodb";
import { startOfflineSystem } from "../local/system";
import type { LocalTable } from "../local/topology";
import { BENCH_SKU } from "./stats";
import { dynamoAccount, freshDynamoUse, type DynamoUse, type Item } from "./dynamoUse";

const WRITE_PROBE_MS = 3000;
const WRITE_PROBE_CONCURRENCY = 16;

export interface Counters {
  requests: Record<string, number>;
  invocations: Record<string, number>;
  durationsMs: Record<string, number[]>;
  created: number;
  completed: number;
  failed: number;
  invokeErrors: number;
  latenciesMs: number[];
  firstStart: number;
  lastDone: number;
  logBytes: number;
  logLines: number;
  /** DynamoDB writes, reads and write units per table and per index (bench/dynamoUse.ts). */
  dynamo: DynamoUse;
}

const fresh = (): Counters => ({
  requests: {},
  invocations: {},
  durationsMs: {},
  created: 0,
  completed: 0,
  failed: 0,
  invokeErrors: 0,
  latenciesMs: [],
  firstStart: 0,
  lastDone: 0,
  logBytes: 0,
  logLines: 0,
  dynamo: freshDynamoUse(),
});

let c = fresh();
const started = new Map<string, number>();
/** The offline tables (keys, indexes, projections), known once the system is up. */
let tables: LocalTable[] = [];
/** Index key values and sizes of the items seen so far (for index deletes and update sizes). */
const items = new Map<string, Item>();
/**
 * Per-table accounting parses every DynamoDB request body: on for the one-order paths only, so the
 * write-rate probe and the load phases measure the system without that extra work.
 */
let accounting = false;

// Count AWS API calls at every local server (dynalite, SQS, SFN front end...).
const emit = http.Server.prototype.emit;
http.Server.prototype.emit = function (this: http.Server, event: string, ...args: unknown[]) {
  if (event === "request") {
    const req = args[0] as http.IncomingMessage;
    const target = req.headers["x-amz-target"];
    if (typeof target === "string") c.requests[target] = (c.requests[target] ?? 0) + 1;
    if (typeof target === "string" && target.startsWith("DynamoDB_") && accounting) {
      // A second 'data' listener sees the same chunks as dynalite's own.
      const chunks: Buffer[] = [];
      req.on("data", (d: Buffer) => chunks.push(d));
      req.on("end", () => {
        try {
          dynamoAccount(
            c.dynamo,
            tables,
            items,
            target.split(".")[1],
            JSON.parse(Buffer.concat(chunks).toString("utf8")),
          );
        } catch {
          // not JSON: dynalite answers it with an error; nothing to count
        }
      });
    }
  }
  return (emit as (...a: unknown[]) => boolean).apply(this, [event, ...args]);
} as typeof emit;

// Handler logs: counted (log ingestion), not printed.
const write = process.stdout.write.bind(process.stdout);
process.stdout.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
  const text = typeof chunk === "string" ? chunk : Buffer.from(chunk).toString("utf8");
  if (text.startsWith('{"level":') || text.startsWith("{")) {
    c.logBytes += Buffer.byteLength(text);
    c.logLines += text.split("\n").filter(Boolean).length;
    return true;
  }
  return (write as (c: string | Uint8Array, ...r: unknown[]) => boolean)(chunk, ...rest);
}) as typeof process.stdout.write;

async function probeWriteRate(client: import("@aws-sdk/client-dynamodb").DynamoDBClient): Promise<number> {
  const TableName = "bench-write-probe";
  await client.send(
    new CreateTableCommand({
      TableName,
      BillingMode: "PAY_PER_REQUEST",
      AttributeDefinitions: [{ AttributeName: "pk", AttributeType: "S" }],
      KeySchema: [{ AttributeName: "pk", KeyType: "HASH" }],
    }),
  );
  let writes = 0;
  const end = Date.now() + WRITE_PROBE_MS;
  const t0 = Date.now();
  await Promise.all(
    Array.from({ length: WRITE_PROBE_CONCURRENCY }, async (_, w) => {
      let i = 0;
      while (Date.now() < end) {
        await client.send(
          new UpdateItemCommand({
            TableName,
            Key: { pk: { S: `k${(w * 7 + i++) % 64}` } },
            UpdateExpression: "SET n = if_not_exists(n, :z) + :one",
            ConditionExpression: "attribute_not_exists(n) OR n >= :z",
            ExpressionAttributeValues: { ":z": { N: "0" }, ":one": { N: "1" } },
          }),
        );
        writes++;
      }
    }),
  );
  return writes / ((Date.now() - t0) / 1000);
}

async function main(): Promise<void> {
  const system = await startOfflineSystem({
    skipCodePackaging: true,
    throttle: false,
    logLevel: "warn",
    // As deployed: each event source mapping polls with its registered maximumConcurrency
    // (the local default of 4 is a laptop-friendly cap, not what AWS runs).
    pollerConcurrency: 1000,
    catalogue: [{ sku: BENCH_SKU, name: "Bench item", price: 1000, stock: 1_000_000_000 }],
  });
  tables = system.topology.tables;
  const memory: Record<string, number> = {};
  for (const fn of system.topology.functions) memory[fn.handler] = fn.memorySize;
  const handlerOf = new Map(system.topology.functions.map((f) => [f.name, f.handler]));

  const invoke = system.functions.invoke.bind(system.functions);
  system.functions.invoke = async (name: string, event: unknown) => {
    const handler = handlerOf.get(name) ?? name;
    const t0 = performance.now();
    const wall = Date.now();
    try {
      const result = await invoke(name, event);
      const now = Date.now();
      (c.durationsMs[handler] ??= []).push(performance.now() - t0);
      if (handler === "createOrder") {
        const r = result as { statusCode?: number; body?: string };
        if (r?.statusCode === 201) {
          const orderId = (JSON.parse(r.body ?? "{}") as { orderId?: string }).orderId;
          if (orderId && !started.has(orderId)) {
            started.set(orderId, wall);
            c.created++;
            if (!c.firstStart) c.firstStart = wall;
          }
        }
      } else if (handler === "sendNotification" || handler === "compensateOrder") {
        const orderId = (event as { order?: { orderId?: string } })?.order?.orderId;
        const t = orderId ? started.get(orderId) : undefined;
        if (orderId && t !== undefined) {
          started.delete(orderId);
          if (handler === "sendNotification") {
            c.completed++;
            c.latenciesMs.push(now - t);
          } else c.failed++;
          c.lastDone = now;
        }
      }
      return result;
    } catch (err) {
      c.invokeErrors++;
      throw err;
    } finally {
      c.invocations[handler] = (c.invocations[handler] ?? 0) + 1;
    }
  };

  const rawWritesPerSecond = await probeWriteRate(system.dynamo.client);
  c = fresh();

  process.on("message", (msg: { cmd: string }) => {
    if (msg.cmd === "counts") process.send!({ type: "counts", counts: { ...c, inFlight: started.size } });
    else if (msg.cmd === "reset" || msg.cmd === "resetAndAccount") {
      c = fresh();
      started.clear();
      accounting = msg.cmd === "resetAndAccount";
      items.clear();
      process.send!({ type: "reset" });
    } else if (msg.cmd === "dlq") {
      void system.sqs.client
        .send(
          new (
            require("@aws-sdk/client-sqs") as typeof import("@aws-sdk/client-sqs")
          ).GetQueueAttributesCommand({
            QueueUrl: system.sqs.urlOf(system.queues.deadLetter),
            AttributeNames: ["ApproximateNumberOfMessages"],
          }),
        )
        .then((r) =>
          process.send!({ type: "dlq", messages: Number(r.Attributes?.ApproximateNumberOfMessages ?? 0) }),
        )
        .catch(() => process.send!({ type: "dlq", messages: null }));
    } else if (msg.cmd === "stop") {
      void system.stop().finally(() => process.exit(0));
    }
  });
  process.send!({
    type: "ready",
    url: system.url,
    apiKey: system.apiKey,
    rawWritesPerSecond,
    memory,
    startMs: system.timing.totalMs,
  });
}

main().catch((err: Error) => {
  process.stderr.write(`pipeline server failed: ${err.stack ?? err.message}\n`);
  process.exit(1);
});
