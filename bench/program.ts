/**
 * Part 2: what a preview spends in our code. Each variant is a fresh `node` process with ts-node
 * (transpile-only, like the tests), timed from spawn to exit:
 *   program   captureProgram(): index.ts under the mocks, every resource registered and resolved,
 *             code packages built (what `pulumi preview` runs).
 *   floor     the same mocks and stack config, `@pulumi/pulumi` + `@pulumi/aws` loaded, an empty
 *             program (one Config read, nothing registered).
 *   noPackaging  diagnosis: the program with Pulumi's closure serializer and code-path walk
 *             replaced by no-ops (local/system.ts captureTopology does this for `npm start`), so
 *             program - noPackaging is what packaging the CallbackFunctions costs.
 * Variants alternate within each round so machine noise hits all of them alike.
 */
import * as path from "node:path";
import { lastJson, median, ratio, round, run } from "./stats";

const REPO = path.join(__dirname, "..");

const SCRIPTS = {
  program: `
const t0 = Date.now();
require("./program/capture").captureProgram().then((all) => {
  process.stdout.write(JSON.stringify({ resources: all.length, inProcessMs: Date.now() - t0 }) + "\\n");
  process.exit(0);
});`,
  floor: `
const t0 = Date.now();
const { installPulumiMocks, registered } = require("./program/mocks");
const { readStackConfig } = require("./program/stackConfig");
installPulumiMocks(readStackConfig("dev"));
const pulumi = require("@pulumi/pulumi");
require("@pulumi/aws");
new pulumi.Config().get("apiRateLimit");
setTimeout(() => {
  process.stdout.write(JSON.stringify({ resources: registered.length, inProcessMs: Date.now() - t0 }) + "\\n");
  process.exit(0);
}, 75);`,
  noPackaging: `
const t0 = Date.now();
const runtime = require("@pulumi/pulumi").runtime;
runtime.serializeFunction = async () => ({ text: "// skipped\\n", exportName: "handler", containsSecrets: false });
runtime.computeCodePaths = async () => new Map();
require("./program/capture").captureProgram().then((all) => {
  process.stdout.write(JSON.stringify({ resources: all.length, inProcessMs: Date.now() - t0 }) + "\\n");
  process.exit(0);
});`,
} as const;

type Variant = keyof typeof SCRIPTS;

export interface ProgramFigure {
  runs: number;
  /** Median wall time per variant, spawn to exit (ms). */
  wallMs: Record<Variant, number>;
  /** Median time inside the process after ts-node started (ms). */
  inProcessMs: Record<Variant, number>;
  resources: Record<Variant, number>;
  ratioToFloor: number;
  /** Share of the program's wall time above the floor that code packaging accounts for. */
  packagingShareOfOverhead: number;
  samples: Record<Variant, number[]>;
}

export async function benchProgram(runs: number, log: (s: string) => void): Promise<ProgramFigure> {
  const samples: Record<Variant, number[]> = { program: [], floor: [], noPackaging: [] };
  const inside: Record<Variant, number[]> = { program: [], floor: [], noPackaging: [] };
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
      const out = lastJson<{ resources: number; inProcessMs: number }>(r.stdout);
      samples[variant].push(round(r.wallMs, 0));
      inside[variant].push(out.inProcessMs);
      resources[variant] = out.resources;
    }
    log(
      `  round ${i + 1}/${runs}: program ${samples.program[i]} ms, floor ${samples.floor[i]} ms, no packaging ${samples.noPackaging[i]} ms`,
    );
  }
  const wallMs = {
    program: median(samples.program),
    floor: median(samples.floor),
    noPackaging: median(samples.noPackaging),
  };
  return {
    runs,
    wallMs,
    inProcessMs: {
      program: median(inside.program),
      floor: median(inside.floor),
      noPackaging: median(inside.noPackaging),
    },
    resources,
    ratioToFloor: ratio(wallMs.program, wallMs.floor),
    packagingShareOfOverhead: ratio(wallMs.program - wallMs.noPackaging, wallMs.program - wallMs.floor),
    samples,
  };
}
