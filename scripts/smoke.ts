/**
 * The post-deploy smoke test: runs the Postman collection (postman/, generated with its tests by
 * `npm run openapi`) with newman against a deployed stack, or any endpoint that answers the
 * contract. The same `runCollection` runs it against the offline system in `npm test`
 * (test/e2e/postman.spec.ts).
 *
 *   npm run smoke -- --stack dev                    apiUrl + apiKey from `pulumi stack output --json --show-secrets`
 *   pulumi stack output --json --show-secrets | npm run smoke -- --stack-outputs -
 *   npm run smoke -- --url http://127.0.0.1:4000 --api-key K    (e.g. `npm start -- --api-key K`)
 *
 * Options: --sku <SKU> (one in the stack's catalogue, with stock; default SKU-1), --folder <name>
 * (run one folder: "Orders API" or "Contract flow"), --poll-interval-ms, --max-polls.
 *
 * What a run leaves on the stack: two charged orders of one unit of --sku (charged by the payment
 * simulator's accepting token) and two declined orders, restocked. It deletes nothing; orders
 * are records like any customer's. Exits 1 when any assertion fails.
 */
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import * as newman from "newman";
import { POSTMAN_FILE } from "./openapi";
import { SETTINGS } from "./postman";

export type Settings = { -readonly [K in keyof typeof SETTINGS]: string };

export interface RunOptions {
  /** Collection variables to override: baseUrl and apiKey at least. */
  settings: Partial<Settings> & { baseUrl: string; apiKey: string };
  /** The collection; the committed postman/ file when absent. */
  collection?: object;
  /** Run only this folder. */
  folder?: string;
  /** newman reporters ("cli" prints every request and assertion). @default [] */
  reporters?: string[];
  /** Whole-run limit. @default 300000 */
  timeoutMs?: number;
}

export interface AssertionResult {
  /** The request's name. */
  item: string;
  test: string;
  /** The failure message; undefined when it passed. */
  error?: string;
}

export interface RunResult {
  requests: number;
  assertions: AssertionResult[];
  failed: AssertionResult[];
  /** Script errors and request errors (a refused connection, a throw in a script). */
  errors: string[];
  durationMs: number;
}

export function readCollection(file = POSTMAN_FILE): object {
  return JSON.parse(readFileSync(file, "utf8")) as object;
}

/** Runs the collection with newman's Node API; resolves with every assertion it made. */
export function runCollection(options: RunOptions): Promise<RunResult> {
  const envVar = Object.entries(options.settings)
    .filter(([, value]) => value !== undefined)
    .map(([key, value]) => ({ key, value: String(value) }));
  // Every assertion as newman reports it, also those of pre-request scripts (a skipped request
  // has no execution entry to read them from afterwards).
  const assertions: AssertionResult[] = [];
  return new Promise((resolve, reject) => {
    newman
      .run(
        {
          collection: options.collection ?? readCollection(),
          envVar,
          folder: options.folder,
          reporters: options.reporters ?? [],
          timeout: options.timeoutMs ?? 300_000,
          timeoutRequest: 30_000,
        },
        (err, summary) => {
          if (err) return reject(err);
          const errors = summary.run.failures
            .filter((f) => f.error.name !== "AssertionError")
            .map((f) => `${f.source?.name ?? f.at}: ${f.error.message}`);
          const timings = summary.run.timings;
          resolve({
            requests: summary.run.stats.requests.total ?? 0,
            assertions,
            failed: assertions.filter((a) => a.error !== undefined),
            errors,
            durationMs: (timings.completed ?? 0) - (timings.started ?? 0),
          });
        },
      )
      .on(
        "assertion",
        (err: { message: string } | null, args: { assertion: string; item: { name: string } }) =>
          assertions.push({
            item: args.item.name,
            test: args.assertion,
            error: err ? err.message : undefined,
          }),
      );
  });
}

/** apiUrl and apiKey from `pulumi stack output --json --show-secrets` (index.ts exports both). */
export function targetFromStackOutputs(outputs: Record<string, unknown>): {
  baseUrl: string;
  apiKey: string;
} {
  const { apiUrl, apiKey } = outputs;
  if (typeof apiUrl !== "string" || typeof apiKey !== "string" || apiKey === "[secret]")
    throw new Error(
      "stack outputs must include apiUrl and apiKey in clear (pulumi stack output --json --show-secrets)",
    );
  return { baseUrl: apiUrl.replace(/\/+$/, ""), apiKey };
}

export type Exec = (file: string, args: string[]) => string;

const execPulumi: Exec = (file, args) =>
  execFileSync(file, args, { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] });

/** The stack's outputs, through the Pulumi CLI (logged in, with the stack's secrets provider). */
export function stackOutputs(stack: string, exec: Exec = execPulumi): Record<string, unknown> {
  return JSON.parse(
    exec("pulumi", ["stack", "output", "--json", "--show-secrets", "--stack", stack]),
  ) as Record<string, unknown>;
}

export const USAGE =
  "npm run smoke -- (--stack <name> | --stack-outputs <file|-> | --url <apiUrl> --api-key <key>) [--sku SKU-1] [--folder <name>] [--poll-interval-ms 1000] [--max-polls 60]";

/** The run's settings from the command line; `exec` runs the Pulumi CLI for --stack. */
export function settingsFromArgs(argv: string[], exec: Exec = execPulumi): RunOptions {
  const { values } = parseArgs({
    args: argv,
    options: {
      stack: { type: "string" },
      "stack-outputs": { type: "string" },
      url: { type: "string" },
      "api-key": { type: "string" },
      sku: { type: "string" },
      folder: { type: "string" },
      "poll-interval-ms": { type: "string" },
      "max-polls": { type: "string" },
    },
  });
  let target: { baseUrl: string; apiKey: string };
  if (values.stack) {
    target = targetFromStackOutputs(stackOutputs(values.stack, exec));
  } else if (values["stack-outputs"]) {
    const file = values["stack-outputs"];
    target = targetFromStackOutputs(
      JSON.parse(readFileSync(file === "-" ? 0 : file, "utf8")) as Record<string, unknown>,
    );
  } else if (values.url && values["api-key"]) {
    target = { baseUrl: values.url.replace(/\/+$/, ""), apiKey: values["api-key"] };
  } else {
    throw new Error(`no target. ${USAGE}`);
  }
  const settings: RunOptions["settings"] = { ...target };
  if (values.sku) settings.sku = values.sku;
  if (values["poll-interval-ms"]) settings.pollIntervalMs = values["poll-interval-ms"];
  if (values["max-polls"]) settings.maxPolls = values["max-polls"];
  return { settings, folder: values.folder };
}

async function main(argv: string[]): Promise<number> {
  const options = settingsFromArgs(argv);
  const result = await runCollection({ ...options, reporters: ["cli"] });
  const summary = `${result.requests} requests, ${result.assertions.length} assertions, ${result.failed.length} failed, ${result.errors.length} errors`;
  process.stdout.write(`smoke test against ${options.settings.baseUrl}: ${summary}\n`);
  return result.failed.length === 0 && result.errors.length === 0 && result.assertions.length > 0 ? 0 : 1;
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => (process.exitCode = code),
    (err: Error) => {
      process.stderr.write(`smoke: ${err.message}\n`);
      process.exitCode = 1;
    },
  );
}
