/**
 * `npm run bench`: figures against their limits, not pass/fail (docs/benchmarks.md).
 *   1. package per function: zipped archive and cold init vs an esbuild bundle of the same handler
 *   2. program evaluation under mocks vs the floor (pulumi + aws loaded, empty program)
 *   3. offline pipeline: orders/s to COMPLETED and latency vs dynalite's write rate / writes per order
 *   4. cost per million orders on AWS, from the definition, the counts of 3 and dated list prices
 *   5. capacity on AWS: orders/s per constraint at default and requestable quotas, the binding one
 *      (registered resources, the counts of 3, bench/quotas/<region>.json); alone: `npm run bench:capacity`
 * Prints a summary and writes bench/results/latest.json and bench/results/latest.md.
 * Medians of several runs; every ratio is measured side by side in the same run.
 * BENCH_PACKAGE_RUNS (default 10) and BENCH_PROGRAM_RUNS (default 5) change the repetitions.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { captureProgram } from "../program/capture";
import { benchCapacity, capacityMarkdown, type CapacityFigure } from "./capacity";
import { benchCost, type CostFigure } from "./cost";
import { benchPackages, type PackageFigure } from "./package";
import { benchPipeline, errorCount, type PipelineFigure } from "./pipeline";
import { benchProgram, type ProgramFigure } from "./program";
import { kb, machine, round, table } from "./stats";

const TARGETS = {
  packageSize: 2,
  packageInit: 1.5,
  program: 1.5,
  programTsNode: 3.5,
  programMain: 2.5,
  pipeline: 0.5,
};

const log = (s: string) => process.stdout.write(`${s}\n`);

function markdown(r: {
  machine: ReturnType<typeof machine>;
  packageRuns: number;
  packages: PackageFigure[];
  program: ProgramFigure;
  pipeline: PipelineFigure;
  cost: CostFigure;
  capacity: CapacityFigure;
  benchSeconds: number;
}): string {
  const m = r.machine;
  const mark = (ok: boolean) => (ok ? "✅" : "❌");
  const lines: string[] = [];
  lines.push(
    `Measured ${m.date.slice(0, 10)} on ${m.cpu}, ${m.cores} cores (shared; load average ${m.loadAverageAtStart[0]} at start), ${m.memoryGb} GB, ${m.os}, Node ${m.node}, commit ${m.commit}. \`npm run bench\` took ${r.benchSeconds} s.`,
    "",
    "**1. Lambda package** (zip size estimated from the archive's files: deflate per file + zip headers; cold init = fresh `node`, require `__index.js` + run the factory, median of " +
      `${r.packageRuns} runs) vs the limit: the same handler bundled + minified by esbuild, AWS SDK external.`,
    "",
    "| function | zip | esbuild zip | size ratio (target ≤ 2x) | cold init | esbuild init | init ratio (target ≤ 1.5x) |",
    "|---|---:|---:|---:|---:|---:|---:|",
    ...r.packages.map(
      (p) =>
        `| ${p.handler} | ${kb(p.archive.zipBytes)} | ${kb(p.esbuild.zipBytes)} | ${p.sizeRatio}x ${mark(p.sizeRatio <= TARGETS.packageSize)} | ` +
        `${p.archive.coldInitMs} ms | ${p.esbuild.coldInitMs} ms | ${p.coldInitRatio}x ${mark(p.coldInitRatio <= TARGETS.packageInit)} |`,
    ),
    "",
    `**2. Program evaluation** under mocks (fresh process each, median of ${r.program.runs}; every program variant printed the same fingerprint, resources and serialized code: \`${r.program.digest.slice(0, 12)}\`):`,
    "",
    "| run | wall time | ratio to floor (target ≤ 1.5x) | CPU time | CPU ratio |",
    "|---|---:|---:|---:|---:|",
    `| as Pulumi.yaml runs it: program/main.js (transpile cache, warm) + preview cuts | ${r.program.wallMs.cached} ms | ${r.program.cachedRatioToFloor}x ${mark(r.program.cachedRatioToFloor <= TARGETS.program)} (${r.program.cachedRatioToCachedFloor}x its own floor) | ${r.program.cpuMs.cached} ms | ${r.program.cpuRatios.cached}x |`,
    `| as \`pulumi preview\` starts it: the same under the language host's inspector session (Debugger on before the program loads) | ${r.program.wallMs.host} ms | ${r.program.hostRatioToFloor}x | ${r.program.cpuMs.host} ms | ${r.program.cpuRatios.host}x |`,
    `| the same, no cuts (ORDERFLOW_PREVIEW_CUTS=off: a real preview before issue 15) | ${r.program.wallMs.hostNoCuts} ms | ${r.program.hostNoCutsRatioToFloor}x | ${r.program.cpuMs.hostNoCuts} ms | ${r.program.cpuRatios.hostNoCuts}x |`,
    `| ts-node transpile-only + preview cuts (tests; ${r.program.resources.program} resources, code packages built) | ${r.program.wallMs.program} ms | ${r.program.ratioToFloor}x ${mark(r.program.ratioToFloor <= TARGETS.program)} | ${r.program.cpuMs.program} ms | ${r.program.cpuRatios.program}x |`,
    `| ts-node, no cuts (ORDERFLOW_PREVIEW_CUTS=off: before issue 15) | ${r.program.wallMs.noCuts} ms | ${r.program.noCutsRatioToFloor}x | ${r.program.cpuMs.noCuts} ms | ${r.program.cpuRatios.noCuts}x |`,
    `| ts-node + cuts, CallbackFunction packaging skipped (diagnosis) | ${r.program.wallMs.noPackaging} ms | ${round(r.program.wallMs.noPackaging / r.program.wallMs.floor, 2)}x | ${r.program.cpuMs.noPackaging} ms | ${round(r.program.cpuMs.noPackaging / r.program.cpuMs.floor, 2)}x |`,
    `| floor: ts-node, @pulumi/pulumi + @pulumi/aws, empty program | ${r.program.wallMs.floor} ms | 1x | ${r.program.cpuMs.floor} ms | 1x |`,
    `| floor through program/register.js instead of ts-node | ${r.program.wallMs.floorCached} ms | ${round(r.program.wallMs.floorCached / r.program.wallMs.floor, 2)}x | ${r.program.cpuMs.floorCached} ms | ${round(r.program.cpuMs.floorCached / r.program.cpuMs.floor, 2)}x |`,
    "",
    `Issue 15's targets: under ts-node ≤ 3.5x the floor: ${r.program.ratioToFloor}x ${mark(r.program.ratioToFloor <= TARGETS.programTsNode)}; as Pulumi runs it (program/main.js) ≤ 2.5x: ${r.program.cachedRatioToFloor}x ${mark(r.program.cachedRatioToFloor <= TARGETS.programMain)}.`,
    "",
    `program/main.js with empty transpile and parse caches (once): ${r.program.cachedColdMs} ms.`,
    "",
    `Bundling all ${r.packages.length} handlers with esbuild (part 1) took ${r.packages.reduce((a, p) => a + p.esbuild.buildMs, 0)} ms in total: what a preview would spend on code instead of ${r.program.wallMs.program - r.program.wallMs.noPackaging} ms of CallbackFunction packaging.`,
    "",
    "**3. Offline pipeline** (`startOfflineSystem` in a child process, autocannon POSTs from the bench process):",
    "",
    "| figure | value |",
    "|---|---:|",
    `| dynalite raw conditional UpdateItem rate | ${r.pipeline.rawWritesPerSecond}/s |`,
    `| DynamoDB writes per order (success / declined) | ${r.pipeline.success.dynamoWrites} / ${r.pipeline.failure.dynamoWrites} |`,
    `| limit = raw rate / writes per order | ${r.pipeline.limitOrdersPerSecond} orders/s |`,
    `| orders COMPLETED per second, offered at the limit's rate | ${r.pipeline.atLimit.ordersPerSecond}/s = ${r.pipeline.ratioToLimit}x the limit (target ≥ 0.5x) ${mark(r.pipeline.ratioToLimit >= TARGETS.pipeline)} |`,
    `| POST to COMPLETED at the limit's rate, p50 / p99 | ${r.pipeline.atLimit.latencyMs.p50} / ${r.pipeline.atLimit.latencyMs.p99} ms |`,
    `| POST to COMPLETED at half the limit's rate, p50 / p99 | ${r.pipeline.atHalf.latencyMs.p50} / ${r.pipeline.atHalf.latencyMs.p99} ms (${r.pipeline.atHalf.ordersPerSecond}/s) |`,
    `| errors (HTTP, non-2xx, failed or unfinished orders, DLQ) | ${errorCount(r.pipeline)} ${mark(errorCount(r.pipeline) === 0)} |`,
    "",
    `**4. Cost per million orders on AWS** (${r.cost.region} prices written from memory on ${r.cost.pricesAsOf}, unverified: bench/prices/${r.cost.region}.json; request counts measured in part 3):`,
    "",
    "| line | success path | declined path |",
    "|---|---:|---:|",
    `| state transitions per order, counted from the registered definition (${r.cost.success.path.join(" → ")} / ${r.cost.failure.path.join(" → ")}) | ${r.cost.success.transitions} | ${r.cost.failure.transitions} |`,
    ...Object.keys(r.cost.success.perMillion).map(
      (k) =>
        `| ${k} | $${r.cost.success.perMillion[k].toFixed(2)} | $${(r.cost.failure.perMillion[k] ?? 0).toFixed(2)} |`,
    ),
    `| **total per million orders** | **$${r.cost.success.totalPerMillion.toFixed(2)}** | **$${r.cost.failure.totalPerMillion.toFixed(2)}** |`,
    "",
    `Each e-mail subscriber on the topic adds $${r.cost.perEmailSubscriberPerMillion.toFixed(2)} per million completed orders; SMS is priced per country and excluded.`,
    "",
    capacityMarkdown(r.capacity).trimEnd(),
  );
  return lines.join("\n") + "\n";
}

async function main(): Promise<void> {
  const t0 = Date.now();
  const packageRuns = Number(process.env.BENCH_PACKAGE_RUNS ?? 10);
  const programRuns = Number(process.env.BENCH_PROGRAM_RUNS ?? 5);
  const m = machine();
  log(`orderflow bench on ${m.cpu} x${m.cores}, Node ${m.node}, load ${m.loadAverageAtStart.join(" ")}`);

  log("\n1. Lambda packages (zip and cold init vs esbuild bundle)");
  const all = await captureProgram();
  const packages = await benchPackages(all, packageRuns, log);

  log(`\n2. Program evaluation (median of ${programRuns})`);
  const program = await benchProgram(programRuns, log);
  log(
    `  main.js ${program.wallMs.cached} ms, ts-node ${program.wallMs.program} ms (no cuts ${program.wallMs.noCuts} ms) vs floor ${program.wallMs.floor} ms = ${program.cachedRatioToFloor}x / ${program.ratioToFloor}x (no packaging: ${program.wallMs.noPackaging} ms)`,
  );

  log("\n3. Offline pipeline");
  const pipeline = await benchPipeline(log);

  log("\n4. Cost per million orders");
  const emailSubscribers = all.filter(
    (r) => r.type === "aws:sns/topicSubscription:TopicSubscription" && r.inputs.protocol === "email",
  ).length;
  const cost = benchCost(all, pipeline, { emailSubscribers });
  for (const p of ["success", "failure"] as const) {
    log(
      `  ${p}: ${cost[p].path.join(" -> ")} = ${cost[p].transitions} transitions, $${cost[p].totalPerMillion} per million (${JSON.stringify(cost[p].perMillion)})`,
    );
  }

  log("\n5. Capacity on AWS");
  const capacity = benchCapacity(all, pipeline, cost);
  log(
    `  ${capacity.ordersPerSecond} orders/s at requestable quotas (binding: ${capacity.binding}), ${capacity.ordersPerSecondDefaultQuotas} at default quotas (binding: ${capacity.bindingDefaultQuotas})`,
  );

  const benchSeconds = round((Date.now() - t0) / 1000, 0);
  const result = {
    machine: m,
    benchSeconds,
    targets: TARGETS,
    packageRuns,
    packages,
    program,
    pipeline,
    cost,
    capacity,
  };
  const md = markdown(result);
  const dir = path.join(__dirname, "results");
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, "latest.json"), JSON.stringify(result, null, 2) + "\n");
  fs.writeFileSync(path.join(dir, "latest.md"), md);
  log(`\n${md}`);
  log(
    table(
      ["target", "figure", "met"],
      [
        [
          "package size ≤ 2x esbuild",
          `worst ${Math.max(...packages.map((p) => p.sizeRatio))}x`,
          String(packages.every((p) => p.sizeRatio <= TARGETS.packageSize)),
        ],
        [
          "cold init ≤ 1.5x esbuild",
          `worst ${Math.max(...packages.map((p) => p.coldInitRatio))}x`,
          String(packages.every((p) => p.coldInitRatio <= TARGETS.packageInit)),
        ],
        ["program ≤ 1.5x floor", `${program.ratioToFloor}x`, String(program.ratioToFloor <= TARGETS.program)],
        [
          "program ≤ 3.5x under ts-node, ≤ 2.5x via main.js",
          `${program.ratioToFloor}x / ${program.cachedRatioToFloor}x`,
          String(
            program.ratioToFloor <= TARGETS.programTsNode &&
              program.cachedRatioToFloor <= TARGETS.programMain,
          ),
        ],
        [
          "pipeline ≥ 0.5x limit, 0 errors",
          `${pipeline.ratioToLimit}x, ${errorCount(pipeline)} errors`,
          String(pipeline.ratioToLimit >= TARGETS.pipeline && errorCount(pipeline) === 0),
        ],
        [
          `≥ ${capacity.target} orders/s at requestable quotas, not design-bound`,
          `${capacity.ordersPerSecond}/s, binding: ${capacity.binding}`,
          String(capacity.ordersPerSecond >= capacity.target && !capacity.bindingIsDesignLimit),
        ],
        [
          "design not binding at default quotas",
          `${capacity.ordersPerSecondDefaultQuotas}/s, binding: ${capacity.bindingDefaultQuotas}`,
          String(!capacity.bindingDefaultQuotasIsDesignLimit),
        ],
        [
          "fewest transitions (from the definition)",
          `${cost.success.transitions} success / ${cost.failure.transitions} declined`,
          "see docs/benchmarks.md",
        ],
      ],
    ),
  );
  log(`\nwrote bench/results/latest.json and latest.md in ${benchSeconds} s`);
  process.exit(0);
}

main().catch((err: Error) => {
  process.stderr.write(`bench failed: ${err.stack ?? err.message}\n`);
  process.exit(1);
});
