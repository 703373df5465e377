/**
 * Part 2: what a preview spends in our code. Each variant is a fresh `node` process, timed from
 * spawn to exit; the program variants run program/printFingerprint.ts (a script file: under
 * `node -e` the serializer treats `exports` as a global) and must all print the same fingerprint
 * (every resource and each function's serialized code), or the bench fails.
 *   program      ts-node transpile-only with the preview cuts (program/previewCuts.ts), as the
 *                tests and `pulumi preview` under ts-node run it.
 *   noCuts       the same with ORDERFLOW_PREVIEW_CUTS=off: the code-path walk per function and a
 *                formatted stack per Pulumi promise, as before the cuts.
 *   cached       what Pulumi.yaml runs: program/register.js (content-keyed transpile cache, warm,
 *                no ts-node) with the cuts.
 *   host         `cached` started as `pulumi preview` starts it: the language host's inspector
 *                session (Debugger on) opened before the program loads (bench/languageHost.ts).
 *   hostNoCuts   the same with ORDERFLOW_PREVIEW_CUTS=off: a real preview before issue 15.
 *   noPackaging  diagnosis: ts-node, cuts, `captureProgram({ packageCode: false })` (what
 *                `npm start` runs), so program - noPackaging is what packaging costs.
 *   floor        ts-node, the same mocks and stack config, `@pulumi/pulumi` + `@pulumi/aws` loaded,
 *                an empty program (one Config read, nothing registered).
 *   floorCached  the same floor through program/register.js instead of ts-node: the fair floor
 *                for `cached`.
 * The cold-cache cost of `cached` (every file transpiled and every function text parsed once) is
 * measured once, with empty cache folders. Variants alternate within each round so machine noise hits all of them alike.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { plannedCuts } from "../program/previewCuts";
import { lastJson, machine, median, ratio, round, run } from "./stats";

const REPO = path.join(__dirname, "..");
const TS_NODE = ["-r", "ts-node/register/transpile-only"];
const CACHED = ["-r", "./program/register.js"];
const PRINT = "program/printFingerprint.ts";
const HOST = "bench/languageHost.ts";

const FLOOR = `
const { installPulumiMocks, registered } = require("./program/mocks");
const { readStackConfig } = require("./program/stackConfig");
installPulumiMocks(readStackConfig("dev"));
const pulumi = require("@pulumi/pulumi");
require("@pulumi/aws");
new pulumi.Config().get("apiRateLimit");
setTimeout(() => {
  const cpu = process.cpuUsage();
  const cpuMs = Math.round((cpu.user + cpu.system) / 1000);
  process.stdout.write(JSON.stringify({ resources: registered.length, cpuMs }) + "\\n");
  process.exit(0);
}, 75);`;

const NO_PACKAGING = `
require("./program/capture").captureProgram({ packageCode: false }).then((all) => {
  const cpu = process.cpuUsage();
  const cpuMs = Math.round((cpu.user + cpu.system) / 1000);
  process.stdout.write(JSON.stringify({ resources: all.length, cpuMs }) + "\\n");
  process.exit(0);
});`;

const VARIANTS = {
  program: { args: [...TS_NODE, PRINT], env: {} },
  noCuts: { args: [...TS_NODE, PRINT], env: { ORDERFLOW_PREVIEW_CUTS: "off" } },
  cached: { args: [...CACHED, PRINT, "--entry", "main"], env: {} },
  host: { args: [...CACHED, HOST, "--entry", "main"], env: {} },
  hostNoCuts: { args: [...CACHED, HOST, "--entry", "main"], env: { ORDERFLOW_PREVIEW_CUTS: "off" } },
  noPackaging: { args: [...TS_NODE, "-e", NO_PACKAGING], env: {} },
  floor: { args: [...TS_NODE, "-e", FLOOR], env: {} },
  floorCached: { args: [...CACHED, "-e", FLOOR], env: {} },
} as const;

type Variant = keyof typeof VARIANTS;
const NAMES = Object.keys(VARIANTS) as Variant[];
const FINGERPRINTED: Variant[] = ["program", "noCuts", "cached", "host", "hostNoCuts"];

export interface ProgramFigure {
  runs: number;
  /** Median wall time per variant, spawn to exit (ms). */
  wallMs: Record<Variant, number>;
  /**
   * Median CPU time (user + system) each variant's process reported at its end: steadier than wall
   * time when other work shares the cores. The ratios below use wall time; cpuRatios use this.
   */
  cpuMs: Record<Variant, number>;
  cpuRatios: {
    program: number;
    noCuts: number;
    cached: number;
    cachedToCachedFloor: number;
    host: number;
    hostNoCuts: number;
  };
  resources: Record<Variant, number>;
  /** program vs floor (ts-node, cuts on). */
  ratioToFloor: number;
  /** noCuts vs floor: where ts-node previews were before the cuts. */
  noCutsRatioToFloor: number;
  /** cached vs floor (the issue's yardstick) and vs floorCached (the same loader's floor). */
  cachedRatioToFloor: number;
  cachedRatioToCachedFloor: number;
  /** host and hostNoCuts vs floor: a real preview's start, with and without the cuts. */
  hostRatioToFloor: number;
  hostNoCutsRatioToFloor: number;
  /** One `cached` run with an empty cache: every project file transpiled and stored. */
  cachedColdMs: number;
  /** The fingerprint all program variants printed (they must agree). */
  digest: string;
  samples: Record<Variant, number[]>;
}

async function runVariant(variant: Variant, env: NodeJS.ProcessEnv = {}) {
  const v = VARIANTS[variant];
  const r = await run(process.execPath, [...v.args], {
    cwd: REPO,
    env: { ...process.env, TS_NODE_TRANSPILE_ONLY: "true", ...v.env, ...env },
    timeoutMs: 120_000,
  });
  if (r.code !== 0) throw new Error(`program variant ${variant} failed:\n${r.stderr.slice(-1500)}`);
  return { wallMs: r.wallMs, out: lastJson<{ resources: number; cpuMs: number; digest?: string }>(r.stdout) };
}

export async function benchProgram(runs: number, log: (s: string) => void): Promise<ProgramFigure> {
  const samples = Object.fromEntries(NAMES.map((n) => [n, [] as number[]])) as Record<Variant, number[]>;
  const cpuSamples = Object.fromEntries(NAMES.map((n) => [n, [] as number[]])) as Record<Variant, number[]>;
  const resources = Object.fromEntries(NAMES.map((n) => [n, 0])) as Record<Variant, number>;
  const digests = new Set<string>();

  const coldDir = fs.mkdtempSync(path.join(os.tmpdir(), "orderflow-ts-cold-"));
  let cachedColdMs: number;
  try {
    const cold = await runVariant("cached", {
      ORDERFLOW_TS_CACHE_DIR: path.join(coldDir, "ts"),
      ORDERFLOW_CLOSURE_CACHE_DIR: path.join(coldDir, "closure"),
    });
    cachedColdMs = round(cold.wallMs, 0);
    digests.add(String(cold.out.digest));
  } finally {
    fs.rmSync(coldDir, { recursive: true, force: true });
  }
  await runVariant("cached"); // warms the default cache for what follows
  log(`  cached, cold cache (once): ${cachedColdMs} ms`);

  for (let i = 0; i < runs; i++) {
    for (const variant of NAMES) {
      const r = await runVariant(variant);
      samples[variant].push(round(r.wallMs, 0));
      cpuSamples[variant].push(r.out.cpuMs);
      resources[variant] = r.out.resources;
      if (FINGERPRINTED.includes(variant)) digests.add(String(r.out.digest));
    }
    log(
      `  round ${i + 1}/${runs}: ${NAMES.map((n) => `${n} ${samples[n][i]} ms (cpu ${cpuSamples[n][i]})`).join(", ")}`,
    );
  }
  if (digests.size !== 1) {
    throw new Error(`program variants registered different resources or code: ${[...digests].join(", ")}`);
  }
  const wallMs = Object.fromEntries(NAMES.map((v) => [v, median(samples[v])])) as Record<Variant, number>;
  const cpuMs = Object.fromEntries(NAMES.map((v) => [v, median(cpuSamples[v])])) as Record<Variant, number>;
  return {
    runs,
    wallMs,
    cpuMs,
    cpuRatios: {
      program: ratio(cpuMs.program, cpuMs.floor),
      noCuts: ratio(cpuMs.noCuts, cpuMs.floor),
      cached: ratio(cpuMs.cached, cpuMs.floor),
      cachedToCachedFloor: ratio(cpuMs.cached, cpuMs.floorCached),
      host: ratio(cpuMs.host, cpuMs.floor),
      hostNoCuts: ratio(cpuMs.hostNoCuts, cpuMs.floor),
    },
    resources,
    ratioToFloor: ratio(wallMs.program, wallMs.floor),
    noCutsRatioToFloor: ratio(wallMs.noCuts, wallMs.floor),
    cachedRatioToFloor: ratio(wallMs.cached, wallMs.floor),
    cachedRatioToCachedFloor: ratio(wallMs.cached, wallMs.floorCached),
    hostRatioToFloor: ratio(wallMs.host, wallMs.floor),
    hostNoCutsRatioToFloor: ratio(wallMs.hostNoCuts, wallMs.floor),
    cachedColdMs,
    digest: [...digests][0],
    samples,
  };
}

export interface EachCutFigure {
  runs: number;
  /** What each run did: all cuts, none, or all but one (ORDERFLOW_PREVIEW_CUTS="-<cut>"). */
  wallMs: Record<string, number>;
  cpuMs: Record<string, number>;
  /** Per cut: (all but this cut) − (all cuts), medians; what the cut saves on top of the others. */
  savedWallMs: Record<string, number>;
  savedCpuMs: Record<string, number>;
  floorWallMs: number;
  digest: string;
  samples: Record<string, number[]>;
}

/**
 * `npm run bench:cuts`: what each preview cut saves, as `pulumi preview` runs the program
 * (program/main.js through register.js), by leaving that one cut out. Rounds interleave all runs.
 */
export async function benchEachCut(runs: number, log: (s: string) => void): Promise<EachCutFigure> {
  const settings: Record<string, string> = { all: "", none: "off" };
  for (const cut of Object.keys(plannedCuts({}))) settings[`without ${cut}`] = `-${cut}`;
  const names = [...Object.keys(settings), "floor"];
  const wall = Object.fromEntries(names.map((n) => [n, [] as number[]]));
  const cpu = Object.fromEntries(names.map((n) => [n, [] as number[]]));
  const digests = new Set<string>();
  await runVariant("cached"); // a warm transpile and parse cache, as in a second preview
  for (let i = 0; i < runs; i++) {
    for (const name of names) {
      const r =
        name === "floor"
          ? await runVariant("floor")
          : await runVariant("cached", { ORDERFLOW_PREVIEW_CUTS: settings[name] });
      wall[name].push(round(r.wallMs, 0));
      cpu[name].push(r.out.cpuMs);
      if (name !== "floor") digests.add(String(r.out.digest));
    }
    log(`  round ${i + 1}/${runs}: ${names.map((n) => `${n} ${wall[n][i]} ms`).join(", ")}`);
  }
  if (digests.size !== 1)
    throw new Error(`cut settings registered different code: ${[...digests].join(", ")}`);
  const wallMs = Object.fromEntries(names.map((n) => [n, median(wall[n])]));
  const cpuMs = Object.fromEntries(names.map((n) => [n, median(cpu[n])]));
  const cuts = Object.keys(settings).filter((n) => n.startsWith("without "));
  return {
    runs,
    wallMs,
    cpuMs,
    savedWallMs: Object.fromEntries(cuts.map((n) => [n.slice(8), wallMs[n] - wallMs.all])),
    savedCpuMs: Object.fromEntries(cuts.map((n) => [n.slice(8), cpuMs[n] - cpuMs.all])),
    floorWallMs: wallMs.floor,
    digest: [...digests][0],
    samples: wall,
  };
}

export function eachCutMarkdown(f: EachCutFigure, when: string): string {
  const rows = Object.keys(f.savedWallMs).map(
    (cut) =>
      `| ${cut} | ${f.wallMs[`without ${cut}`]} ms | ${f.savedWallMs[cut]} ms | ${f.cpuMs[`without ${cut}`]} ms | ${f.savedCpuMs[cut]} ms |`,
  );
  return [
    `What each preview cut saves (${when}; program/main.js, warm caches, median of ${f.runs}; all runs printed fingerprint \`${f.digest.slice(0, 12)}\`):`,
    "",
    "| run | wall | saved (wall) | CPU | saved (CPU) |",
    "|---|---:|---:|---:|---:|",
    `| all cuts | ${f.wallMs.all} ms (${ratio(f.wallMs.all, f.floorWallMs)}x the ts-node floor) | | ${f.cpuMs.all} ms | |`,
    ...rows.map((r) => r.replace(/^\| /, "| all but ")),
    `| none (ORDERFLOW_PREVIEW_CUTS=off) | ${f.wallMs.none} ms (${ratio(f.wallMs.none, f.floorWallMs)}x) | ${f.wallMs.none - f.wallMs.all} ms (all ${Object.keys(f.savedWallMs).length}) | ${f.cpuMs.none} ms | ${f.cpuMs.none - f.cpuMs.all} ms |`,
    `| floor: ts-node, empty program | ${f.floorWallMs} ms | | ${f.cpuMs.floor} ms | |`,
    "",
  ].join("\n");
}

// `ts-node --transpile-only bench/program.ts [runs]`: part 2 alone.
// `... bench/program.ts --each-cut [runs]` (npm run bench:cuts): each cut left out in turn;
// writes bench/results/cuts.{json,md}.
if (require.main === module) {
  const eachCut = process.argv.includes("--each-cut");
  const args = process.argv.slice(2).filter((a) => a !== "--each-cut");
  const runs = Number(args[0] ?? process.env.BENCH_PROGRAM_RUNS ?? (eachCut ? 5 : 3));
  const log = (s: string) => process.stdout.write(`${s}\n`);
  const m = machine();
  const work = eachCut
    ? benchEachCut(runs, log).then((f) => {
        const when = `${m.date.slice(0, 10)}, commit ${m.commit}, Node ${m.node}, load average ${m.loadAverageAtStart[0]} at start`;
        const dir = path.join(REPO, "bench", "results");
        fs.writeFileSync(path.join(dir, "cuts.json"), JSON.stringify({ machine: m, ...f }, null, 2) + "\n");
        fs.writeFileSync(path.join(dir, "cuts.md"), eachCutMarkdown(f, when));
        log(eachCutMarkdown(f, when));
      })
    : benchProgram(runs, log).then((f) => log(JSON.stringify({ ...f, samples: undefined }, null, 2)));
  work.catch((err: unknown) => {
    process.stderr.write(`${String(err)}\n`);
    process.exit(1);
  });
}
