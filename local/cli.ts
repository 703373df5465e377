/**
 * `npm start` flags, start-up errors and shutdown, kept apart from main.ts so each case is one
 * readable line (no stack trace) and can be tested without starting the system.
 */
import * as fs from "node:fs";
import * as net from "node:net";
import * as path from "node:path";
import { parseArgs } from "node:util";
import { DataDirError } from "./dataDir";
import { StartupError } from "./startupError";
import type { Level } from "./log";
import { DEFAULT_WEB_PORT } from "./web";

export const USAGE =
  "usage: npm start -- [--port 4000] [--web-port 3000] [--data-dir DIR] [--fast] [--stack dev] [--api-key KEY] [--no-throttle] [--log-level info]";

const LOG_LEVELS: readonly (Level | "silent")[] = ["debug", "info", "warn", "error", "silent"];

export interface CliOptions {
  help: boolean;
  port: number;
  /** The browser client's port: its origin must be one of the stack's allowedOrigins. */
  webPort: number;
  dataDir?: string;
  fast: boolean;
  stack: string;
  apiKey?: string;
  throttle: boolean;
  logLevel: Level | "silent";
}

/** Stacks are the `Pulumi.<stack>.yaml` files beside Pulumi.yaml. */
function knownStacks(root: string): string[] {
  return fs
    .readdirSync(root)
    .map((f) => /^Pulumi\.(.+)\.yaml$/.exec(f)?.[1])
    .filter((s): s is string => s !== undefined)
    .sort();
}

export function parseCli(argv: string[], root: string): CliOptions {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
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
    }));
  } catch (err) {
    throw new StartupError((err as Error).message.split("\n")[0], true);
  }
  const port = Number(values.port);
  if (!/^\d+$/.test(values.port) || port > 65535)
    throw new StartupError(`--port: not a port number: ${values.port} (0 picks a free one)`);
  const webPort = Number(values["web-port"]);
  if (!/^\d+$/.test(values["web-port"]) || webPort > 65535)
    throw new StartupError(`--web-port: not a port number: ${values["web-port"]} (0 picks a free one)`);
  if (webPort !== 0 && webPort === port)
    throw new StartupError(`--web-port ${webPort}: the API already takes that port (--port); pick another`);
  const logLevel = values["log-level"] as Level | "silent";
  if (!LOG_LEVELS.includes(logLevel))
    throw new StartupError(
      `--log-level: unknown level "${values["log-level"]}" (one of ${LOG_LEVELS.join(", ")})`,
    );
  const stacks = knownStacks(root);
  if (!stacks.includes(values.stack))
    throw new StartupError(`--stack: no Pulumi.${values.stack}.yaml (stacks: ${stacks.join(", ")})`, true);
  return {
    help: values.help,
    port,
    webPort,
    dataDir: values["data-dir"] ? path.resolve(values["data-dir"]) : undefined,
    fast: values.fast,
    stack: values.stack,
    apiKey: values["api-key"],
    throttle: !values["no-throttle"],
    logLevel,
  };
}

/** Fails fast when the port is taken, before the (slow) program capture. */
export function checkPortFree(port: number, flag = "--port"): Promise<void> {
  if (port === 0) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", (err: NodeJS.ErrnoException) =>
      reject(err.code === "EADDRINUSE" ? portInUse(port, flag) : err),
    );
    server.listen(port, "127.0.0.1", () => server.close(() => resolve()));
  });
}

function portInUse(port: number, flag = "--port"): StartupError {
  return new StartupError(
    `${flag} ${port}: the port is in use; pick another with ${flag} <n> (0 picks a free one)`,
  );
}

/** The line to print for an error that stopped the start; undefined for an unexpected one. */
export function startupErrorLine(err: unknown, port: number): string | undefined {
  const e = err as NodeJS.ErrnoException;
  if (e instanceof StartupError) return e.usage ? `${e.message}\n${USAGE}` : e.message;
  if (e instanceof DataDirError) return e.message;
  if (e?.code === "EADDRINUSE") return portInUse(port).message;
  return undefined;
}

/** What Ctrl-C / SIGTERM says about orders in flight, and what becomes of them. */
export function inFlightMessage(counts: Record<string, number>, dataDir: string | undefined): string {
  const total = Object.values(counts).reduce((n, c) => n + c, 0);
  if (total === 0) return "No orders in flight.";
  const by = Object.entries(counts)
    .map(([status, n]) => `${n} ${status}`)
    .join(", ");
  const what = dataDir
    ? `they are settled (completed, compensated or restarted) when you start again with --data-dir ${dataDir}`
    : "the data is in memory: they are lost with it (use --data-dir to keep orders across restarts)";
  return `${total} order${total === 1 ? "" : "s"} in flight (${by}): ${what}.`;
}
