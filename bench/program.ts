/**
 * Part 2: what a preview spends in our code. Each variant is a fresh `node` process with ts-node
 * (transpile-only, like the tests), timed from spawn to exit:
 *   program   captureProgram(): index.ts under the mocks, every resource registered and resolved,
 *             code packages built (what `pulumi preview` runs).
 *   floor     the same mocks and stack config, `@pulumi/pulumi` + `@pulumi/aws` loaded, an empty
 *             program (one Config read, nothing registered).
 *   noPackaging  diagnosis: `captureProgram({ packageCode: false })`, what `npm start` runs, so
 *             program - noPackaging is what packaging the CallbackFunctions costs.
 * Variants alternate within each round so machine noise hits all of them alike.
 */
import * as path from "node:path";
import { lastJson, median, ratio, round, run } from "./stats";

const REPO = path.join(__dirname, "..");

const SCRIPTS = {
  program: `
require("./program/capture").captureProgram().then((all) => {
  process.stdout.write(JSON.stringify({ resources: all.length }) + "\\n");
  process.exit(0);
});`,
  floor: `
const { installPulumiMocks, registered } = require("./program/mocks");
const { readStackConfig } = require("./program/stackConfig");
installPulumiMocks(readStackConfig("dev"));
const pulumi = require("@pulumi/pulumi");
require("@pulumi/aws");
new pulumi.Config().get("apiRateLimit");
setTimeout(() => {
  process.stdout.write(JSON.stringify({ resources: registered.length }) + "\\n");
  process.exit(0);
}, 75);`,
  noPackaging: `
require("./program/capture").captureProgram({ packageCode: false }).then((all) => {
  process.stdout.write(JSON.stringify({ resources: all.length }) + "\\n");
  process.exit(0);
});`,
} as const;

type Variant = keyof typeof SCRIPTS;

export interface ProgramFigure {
  runs: number;
  /** Median wall time per variant, spawn to exit (ms). */
  wallMs: Record<Variant, number>;
  resources: Record<Variant, number>;
  ratioToFloor: number;
  samples: Record<Variant, number[]>;
}

export async function benchProgram(runs: number, log: (s: string) => void): Promise<ProgramFigure> {
  const samples: Record<Variant, number[]> = { program: [], floor: [], noPackaging: [] };
  const resources = { program: 0, floor: 0, noPackaging: 0 };
  for (let i = 0; i < runs; i++) {
    for (const variant of Object.keys(SCRIPTS) as Variant[]) {
      const r = await run(
        process.execPath,
        ["-r", "ts-node/register/transpile-only", "-e", SCRIPTS[variant]],
        {
          cwd: REPO,
          env: { ...process.env, TS_NODE_TRANSPILE_ONLY: "true" },
          timeoutMs: 90_000,
        },
      );
      if (r.code !== 0) throw new Error(`program variant ${variant} failed:\n${r.stderr.slice(-1500)}`);
      const out = lastJson<{ resources: number }>(r.stdout);
      samples[variant].push(round(r.wallMs, 0));
      resources[variant] = out.resources;
    }
    log(
      `  round ${i + 1}/${runs}: program ${samples.program[i]} ms, floor ${samples.floor[i]} ms, no packaging ${samples.noPackaging[i]} ms`,
    );
  }
  const wallMs = Object.fromEntries(
    (Object.keys(SCRIPTS) as Variant[]).map((v) => [v, median(samples[v])]),
  ) as Record<Variant, number>;
  return { runs, wallMs, resources, ratioToFloor: ratio(wallMs.program, wallMs.floor), samples };
}
