/**
 * Child-process side of captureScenarios (./scenarios.ts): runs the real program (index.ts) under
 * the recording mocks once per scenario (another region, another project name, changed config),
 * with a fresh copy of the project's modules each time, and prints what each run registered plus
 * every package the program loaded. A separate process because Pulumi's mock state and the module
 * cache are process-global: the mocha process keeps its one capture of the dev stack.
 *
 * Input (argv[2]): JSON `{ scenarios: WorkerScenario[] }`. Output (stdout, one line): WorkerResult.
 */
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { installPulumiMocks, registered, RegisteredResource } from "../../program/mocks";
import { settled, skipCodePackaging } from "../../program/capture";

export interface WorkerScenario {
  id: string;
  project: string;
  /** The flat runtime config (`<project>:key` and `aws:*` keys, values as Pulumi hands them). */
  config: Record<string, string>;
}

export type CapturedResource = Pick<RegisteredResource, "type" | "name" | "inputs" | "state" | "options">;

export interface WorkerResult {
  runs: { id: string; resources: CapturedResource[] }[];
  /** Files under node_modules that the program's modules loaded (absolute paths). */
  loadedFiles: string[];
}

const root = path.resolve(__dirname, "../..");
const keep = new Set([
  __filename,
  require.resolve("../../program/mocks"),
  require.resolve("../../program/capture"),
]);

function dropProjectModules(): void {
  for (const file of Object.keys(require.cache)) {
    if (file.startsWith(root) && !file.includes(`${path.sep}node_modules${path.sep}`) && !keep.has(file)) {
      delete require.cache[file];
    }
  }
}

/** Code archives are not data: the capture keeps every other input as JSON would. */
function plain(value: Record<string, unknown>): Record<string, unknown> {
  return JSON.parse(
    JSON.stringify({ ...value, code: value.code === undefined ? undefined : "<archive>" }),
  ) as Record<string, unknown>;
}

async function runOnce(scenario: WorkerScenario): Promise<CapturedResource[]> {
  const start = registered.length;
  installPulumiMocks(scenario.config, scenario.project);
  dropProjectModules();
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const program = require("../../index") as Record<string, unknown>;
  const outputs = Object.values(program).filter((value) => pulumi.Output.isInstance(value));
  await new Promise<void>((resolve) => pulumi.all(outputs).apply(() => resolve()));
  await settled();
  return registered.slice(start).map((r) => ({
    type: r.type,
    name: r.name,
    inputs: plain(r.inputs),
    state: plain(r.state),
    options: r.options,
  }));
}

async function main(): Promise<void> {
  const { scenarios } = JSON.parse(process.argv[2]) as { scenarios: WorkerScenario[] };
  // Code packaging is not what these scenarios look at (and most of a capture's time).
  skipCodePackaging();

  const before = new Set(Object.keys(require.cache));
  const runs: WorkerResult["runs"] = [];
  for (const scenario of scenarios) runs.push({ id: scenario.id, resources: await runOnce(scenario) });
  const loadedFiles = Object.keys(require.cache).filter(
    (file) => !before.has(file) && file.includes(`${path.sep}node_modules${path.sep}`),
  );
  process.stdout.write(JSON.stringify({ runs, loadedFiles } satisfies WorkerResult) + "\n");
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
