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
import { checkPortFree, inFlightMessage, parseCli, startupErrorLine, USAGE } from "./cli";
import { describeRecovery } from "./recovery";
import { startOfflineSystem, type OfflineSystem } from "./system";
import { allowedOriginsOf, catalogueOf, startWebServer, webBanner } from "./web";
import type { Notification } from "./sns";

export const FAST_TIMINGS = {
  callbackTimeoutSeconds: 20,
  heartbeatSeconds: 8,
  visibilityTimeoutSeconds: 2,
  maxRetryIntervalSeconds: 1,
};

const root = path.join(__dirname, "..");
let cliPort = 4000;

async function main(): Promise<void> {
  const values = parseCli(process.argv.slice(2), root);
  cliPort = values.port;
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  const notificationsFile = path.join(root, ".orderflow", "notifications.jsonl");
  await checkPortFree(values.port);
  await checkPortFree(values.webPort, "--web-port");

  const system: OfflineSystem = await startOfflineSystem({
    port: values.port,
    dataDir: values.dataDir,
    stack: values.stack,
    skipCodePackaging: true,
    timings: values.fast ? FAST_TIMINGS : undefined,
    apiKey: values.apiKey,
    throttle: values.throttle,
    notificationsFile,
    logLevel: values.logLevel,
    onNotification: (n) => process.stdout.write(`\n📨 ${describeNotification(n)}\n\n`),
  });

  const web = await startWebServer({
    port: values.webPort,
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
      `  Data      ${values.dataDir ?? "in memory"}`,
      ...[describeRecovery(system.recovery)].filter(Boolean).map((line) => `  Restart   ${line}`),
      `  Notices   ${path.relative(process.cwd(), notificationsFile)}`,
      `  SQS       ${system.sqs.endpoint}  (npm run redrive-dlq -- --endpoint ${system.sqs.endpoint})`,
      ...system.topology.schedules.map(
        (sch) =>
          `  Schedule  ${system.topology.functions.find((f) => f.name === sch.functionName)?.handler} ${sch.expression}${values.fast ? ` (every ${sch.everySeconds} s with --fast)` : ""}`,
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

  installShutdown(system, values.dataDir);
}

/**
 * Ctrl-C / SIGTERM: say what happens to orders in flight, then stop every part (API first).
 * A second signal exits at once.
 */
function installShutdown(system: OfflineSystem, dataDir: string | undefined): void {
  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) {
      process.stderr.write("Forced exit\n");
      process.exit(130);
    }
    stopping = true;
    process.stdout.write(`\n${signal}: stopping...\n`);
    const stopped = system
      .inFlight()
      .then(
        (counts) => process.stdout.write(`${inFlightMessage(counts, dataDir)}\n`),
        () => undefined,
      )
      .then(() => system.stop());
    stopped.then(
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
  process.on("SIGHUP", () => shutdown("SIGHUP"));
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
    const line = startupErrorLine(err, cliPort);
    process.stderr.write(
      line
        ? `orderflow offline: ${line}\n`
        : `orderflow offline failed to start: ${err.stack ?? err.message}\n`,
    );
    process.exit(line ? 2 : 1);
  });
}
