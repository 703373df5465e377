/**
 * `npm start`: the whole order system offline. Flags:
 *   --port <n>        API port (default 4000; 0 picks a free one)
 *   --web-port <n>    the browser client's port (default 3000: its origin is the dev stack's allowed one)
 *   --data-dir <dir>  keep DynamoDB data on disk (default: in memory)
 *   --fast            short timings (callback 20 s, heartbeat 8 s, visibility 2 s) to watch
 *                     timeouts and the DLQ without waiting minutes
 *   --stack <name>    stack file the program reads (default dev: Pulumi.dev.yaml)
 *   --api-key <key>   accept this key instead of a random one
 *   --no-throttle     ignore the usage plan's rate limits
 *   --log-level <l>   runtime log level: debug, info, warn, error, silent (default info)
 */
import "./polyfills";
import * as path from "node:path";
import { parseArgs } from "node:util";
import { startOfflineSystem, type OfflineSystem } from "./system";
import { allowedOriginsOf, catalogueOf, DEFAULT_WEB_PORT, startWebServer, webBanner } from "./web";
import type { Level } from "./log";
import type { Notification } from "./sns";

export const FAST_TIMINGS = {
  callbackTimeoutSeconds: 20,
  heartbeatSeconds: 8,
  visibilityTimeoutSeconds: 2,
  maxRetryIntervalSeconds: 1,
};

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      port: { type: "string", default: "4000" },
      "web-port": { type: "string", default: String(DEFAULT_WEB_PORT) },
      "data-dir": { type: "string" },
      fast: { type: "boolean", default: false },
      stack: { type: "string", default: "dev" },
      "api-key": { type: "string" },
      "no-throttle": { type: "boolean", default: false },
      "log-level": { type: "string", default: "info" },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (values.help) {
    process.stdout.write(
      "npm start -- [--port 4000] [--web-port 3000] [--data-dir .orderflow/data] [--fast] [--stack dev] [--api-key K] [--no-throttle] [--log-level info]\n",
    );
    return;
  }
  const root = path.join(__dirname, "..");
  const notificationsFile = path.join(root, ".orderflow", "notifications.jsonl");
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new Error(`--port: not a port: ${values.port}`);
  const webPort = Number(values["web-port"]);
  if (!Number.isInteger(webPort) || webPort < 0 || webPort > 65535)
    throw new Error(`--web-port: not a port: ${values["web-port"]}`);

  const system: OfflineSystem = await startOfflineSystem({
    port,
    dataDir: values["data-dir"] ? path.resolve(values["data-dir"]) : undefined,
    stack: values.stack,
    skipCodePackaging: true,
    timings: values.fast ? FAST_TIMINGS : undefined,
    apiKey: values["api-key"],
    throttle: !values["no-throttle"],
    notificationsFile,
    logLevel: values["log-level"] as Level,
    onNotification: (n) => process.stdout.write(`\n📨 ${describeNotification(n)}\n\n`),
  });

  const web = await startWebServer({
    port: webPort,
    catalogue: catalogueOf(system.topology, system.tables.inventory),
  });

  const sku = firstSku(system) ?? "SKU-1";
  const body = JSON.stringify({
    customer: { email: "ada@example.com", name: "Ada" },
    items: [{ sku, quantity: 1 }],
    payment: { token: "tok_visa" },
  });
  const sm = system.topology.stateMachines[0];
  const callback = sm
    ? Object.values(sm.definition.States).find((s) => s.HeartbeatSeconds !== undefined)
    : undefined;
  process.stdout.write(
    [
      "",
      `orderflow offline is up in ${(system.timing.totalMs / 1000).toFixed(1)} s (program captured in ${(system.timing.captureMs / 1000).toFixed(1)} s)`,
      "",
      `  API       ${system.url}`,
      `  API key   ${system.apiKey}`,
      ...webBanner(web, system.url, allowedOriginsOf(system.topology)),
      `  Data      ${values["data-dir"] ? path.resolve(values["data-dir"]) : "in memory"}`,
      `  Notices   ${path.relative(process.cwd(), notificationsFile)}`,
      `  SQS       ${system.sqs.endpoint}  (npm run redrive-dlq -- --endpoint ${system.sqs.endpoint})`,
      ...system.topology.schedules.map(
        (sch) =>
          `  Schedule  ${system.topology.functions.find((f) => f.name === sch.functionName)?.handler} ${sch.expression}`,
      ),
      `  Timings   callback ${String(callback?.TimeoutSeconds)} s, heartbeat ${String(callback?.HeartbeatSeconds)} s${values.fast ? " (--fast)" : ""}`,
      "",
      "Place an order:",
      `  curl -si -X POST ${system.url}/orders -H 'x-api-key: ${system.apiKey}' -H 'content-type: application/json' -d '${body}'`,
      "Then follow it (payment tokens: tok_visa charges, tok_decline is declined, tok_fail fails until the DLQ):",
      `  curl -s ${system.url}/orders/<orderId> -H 'x-api-key: ${system.apiKey}'`,
      `  curl -s '${system.url}/orders?limit=5' -H 'x-api-key: ${system.apiKey}'`,
      "",
      "Ctrl-C stops everything.",
      "",
    ].join("\n"),
  );

  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) {
      process.stderr.write("Forced exit\n");
      process.exit(130);
    }
    stopping = true;
    process.stdout.write(`\n${signal}: stopping...\n`);
    system.stop().then(
      () => {
        process.stdout.write("Stopped.\n");
        process.exit(0);
      },
      (err: Error) => {
        process.stderr.write(`Stop failed: ${err.message}\n`);
        process.exit(1);
      },
    );
  };
  process.on("SIGINT", () => shutdown("SIGINT"));
  process.on("SIGTERM", () => shutdown("SIGTERM"));
}

/** One readable line: the subject and the SMS text of a per-protocol (MessageStructure json) message. */
function describeNotification(n: Notification): string {
  let text = n.message;
  try {
    const parsed = JSON.parse(n.message) as Record<string, unknown>;
    if (typeof parsed.sms === "string") text = parsed.sms;
    else if (typeof parsed.default === "string") text = parsed.default;
  } catch {
    // A plain-text message.
  }
  return `${n.subject ? `${n.subject}: ` : ""}${text}  (all fields in .orderflow/notifications.jsonl)`;
}

function firstSku(system: OfflineSystem): string | undefined {
  const item = system.topology.seedItems.find((s) => s.tableName === system.tables.inventory)?.item as
    { sku?: { S?: string } } | undefined;
  return item?.sku?.S;
}

if (require.main === module) {
  main().catch((err: Error) => {
    process.stderr.write(`orderflow offline failed to start: ${err.stack ?? err.message}\n`);
    process.exit(1);
  });
}
