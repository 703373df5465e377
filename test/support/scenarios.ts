import { execFile } from "child_process";
import * as path from "path";
import { readStackConfig } from "../../program/stackConfig";
import type { CapturedResource, WorkerResult, WorkerScenario } from "./captureWorker";

export type { CapturedResource };

/**
 * The program captured under mocks for stacks other than the dev one the specs share: other
 * regions and partitions, a second project with the same stack name, and config changes one key
 * at a time. Each is the dev stack's config with the scenario's changes; the dev stack itself is
 * the mocha process's own capture (captureProgram).
 */
export const SCENARIOS = {
  euWest1: { region: "eu-west-1" },
  govCloud: { region: "us-gov-west-1" },
  china: { region: "cn-north-1" },
  /** A second project deploying a stack of the same name into the same account and region. */
  otherProject: { project: "shop" },
  /** An input of what the API stage serves, changed. */
  origins: { set: { allowedOrigins: ["https://shop.example.com", "https://admin.example.com"] } },
  /** An input the stage does not serve, changed. */
  alarmThreshold: { set: { alarmDlqMessages: 7 } },
} satisfies Record<string, { region?: string; project?: string; set?: Record<string, unknown> }>;

export type ScenarioId = keyof typeof SCENARIOS;

export interface ScenarioCapture {
  runs: Record<ScenarioId, CapturedResource[]>;
  /** Files under node_modules the program loaded while it ran. */
  loadedFiles: string[];
}

function workerScenario(id: ScenarioId): WorkerScenario {
  const spec: { region?: string; project?: string; set?: Record<string, unknown> } = SCENARIOS[id];
  const project = spec.project ?? "orderflow";
  const config: Record<string, string> = {};
  for (const [key, value] of Object.entries(readStackConfig("dev"))) {
    config[key.replace(/^orderflow:/, `${project}:`)] = value;
  }
  if (spec.region) config["aws:region"] = spec.region;
  for (const [key, value] of Object.entries(spec.set ?? {})) {
    config[`${project}:${key}`] = typeof value === "string" ? value : JSON.stringify(value);
  }
  return { id, project, config };
}

let pending: Promise<ScenarioCapture> | undefined;

/** Runs every scenario in one child process (once per mocha run; later calls share the result). */
export function captureScenarios(): Promise<ScenarioCapture> {
  pending ??= new Promise((resolve, reject) => {
    const scenarios = (Object.keys(SCENARIOS) as ScenarioId[]).map(workerScenario);
    execFile(
      process.execPath,
      [
        "-r",
        "ts-node/register/transpile-only",
        path.join(__dirname, "captureWorker.ts"),
        JSON.stringify({ scenarios }),
      ],
      { cwd: path.join(__dirname, "../.."), maxBuffer: 512 * 1024 * 1024, timeout: 180_000 },
      (error, stdout, stderr) => {
        if (error) return reject(new Error(`capture worker failed: ${error.message}\n${stderr}`));
        const result = JSON.parse(stdout) as WorkerResult;
        resolve({
          runs: Object.fromEntries(result.runs.map((r) => [r.id, r.resources])) as ScenarioCapture["runs"],
          loadedFiles: result.loadedFiles,
        });
      },
    );
  });
  return pending;
}
