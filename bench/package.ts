/**
 * Part 1: each CallbackFunction's code package as `pulumi up` would upload it, against the limit
 * for the same handler: an esbuild bundle (minified, for the Node major of the function's registered
 * runtime, AWS SDK clients external, since the Node.js runtimes ship them).
 *
 * - Size: the zip of the archive's files. Pulumi zips `__index.js` plus every file of each
 *   archived package folder; here each file is deflated with zlib (level 6, the zip default) and
 *   the zip headers are added (30 + name per local header, 46 + name per central entry, 22 for
 *   the end record), which is within a few hundred bytes of a real zip.
 * - Cold init: a fresh `node` process with the function's registered environment requires the
 *   unpacked `__index.js` (whose last line runs the factory: `exports.handler = factory()`), with
 *   only the archive's packages beside it and the runtime's SDK clients one level up, as Lambda
 *   lays them out (test/support/serializedFunctions.ts). Timed inside the process around the
 *   `require`, median of RUNS; Pulumi and esbuild runs alternate so noise hits both alike.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import * as zlib from "node:zlib";
import { build, type BuildOptions } from "esbuild";
import { HANDLER_TAG } from "../components/handlerTag";
import type { RegisteredResource } from "../program/mocks";
import { lambdaRuntimeRoot, unpackFunction } from "../test/support/serializedFunctions";
import { lastJson, median, ratio, round, run } from "./stats";

const REPO = path.join(__dirname, "..");

export interface PackageFigure {
  function: string;
  handler: string;
  archive: {
    files: number;
    zipBytes: number;
    unzippedBytes: number;
    packages: string[];
    coldInitMs: number;
    processMs: number;
  };
  /** buildMs: what bundling this handler takes (what a preview would spend instead of serializing). */
  esbuild: { zipBytes: number; bundleBytes: number; coldInitMs: number; processMs: number; buildMs: number };
  sizeRatio: number;
  coldInitRatio: number;
  /** Bytes of the zip per archived part (what to cut first). */
  zipBytesByPart: Record<string, number>;
}

/** A zip entry's compressed size plus its local header, central directory entry and name twice. */
function zipEntryBytes(name: string, content: Buffer): number {
  const compressed = Math.min(zlib.deflateRawSync(content, { level: 6 }).length, content.length);
  const nameBytes = Buffer.byteLength(name);
  return compressed + 30 + nameBytes + 46 + nameBytes;
}

const ZIP_END_RECORD = 22;

/** The files of an archive entry: a folder (FileArchive) or a single file (FileAsset). */
function filesUnder(dir: string, prefix: string): { name: string; file: string }[] {
  if (!fs.statSync(dir).isDirectory()) return [{ name: prefix, file: dir }];
  const out: { name: string; file: string }[] = [];
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const file = path.join(dir, entry.name);
    const name = `${prefix}/${entry.name}`;
    const stat = fs.statSync(file);
    if (stat.isDirectory()) out.push(...filesUnder(file, name));
    else out.push({ name, file });
  }
  return out;
}

async function archiveZip(fn: RegisteredResource) {
  const assets = await (fn.inputs.code as { assets: Promise<Record<string, unknown>> }).assets;
  const byPart: Record<string, number> = {};
  let zipBytes = ZIP_END_RECORD;
  let unzippedBytes = 0;
  let files = 0;
  for (const [name, value] of Object.entries(assets)) {
    if (name === "__index.js") {
      const text = Buffer.from(await (value as { text: Promise<string> }).text);
      byPart[name] = zipEntryBytes(name, text);
      unzippedBytes += text.length;
      files++;
    } else {
      const folder = path.resolve(REPO, String(await (value as { path: Promise<string> }).path));
      byPart[name] = 0;
      for (const f of filesUnder(folder, name)) {
        const content = fs.readFileSync(f.file);
        byPart[name] += zipEntryBytes(f.name, content);
        unzippedBytes += content.length;
        files++;
      }
    }
    zipBytes += byPart[name];
  }
  return {
    zipBytes,
    unzippedBytes,
    files,
    byPart,
    packages: Object.keys(assets).filter((n) => n !== "__index.js"),
  };
}

const handlerOf = (fn: RegisteredResource) => String((fn.inputs.tags as Record<string, string>)[HANDLER_TAG]);

/**
 * esbuild's target for a Lambda Node.js runtime (`nodejs24.x` -> `node24`), so the bundle is
 * compared against the archive on the runtime that runs both, and a runtime bump cannot leave
 * the bundle behind (or ahead: syntax the runtime lacks).
 */
export function esbuildTarget(runtime: string): string {
  const m = /^nodejs(\d+)\.x$/.exec(runtime);
  if (!m) throw new Error(`${runtime} is not a Lambda Node.js runtime (nodejs<major>.x)`);
  return `node${m[1]}`;
}

/**
 * The build of one registered function's bundle: its handler module's `<handler>FromEnv()` factory
 * as `handler`, for the runtime the function is registered with (LAMBDA_RUNTIME).
 */
export function bundleOptions(fn: RegisteredResource, outfile: string): BuildOptions {
  const handler = handlerOf(fn);
  return {
    stdin: {
      contents: `module.exports.handler = require(${JSON.stringify(path.join(REPO, "functions", handler))}).${handler}FromEnv();\n`,
      resolveDir: REPO,
      loader: "js",
      sourcefile: `${handler}.entry.js`,
    },
    bundle: true,
    minify: true,
    platform: "node",
    target: esbuildTarget(String(fn.inputs.runtime)),
    format: "cjs",
    external: ["@aws-sdk/client-*"],
    outfile,
    logLevel: "error",
  };
}

async function esbuildBundle(
  fn: RegisteredResource,
  outDir: string,
): Promise<{ file: string; bundleBytes: number; zipBytes: number }> {
  const file = path.join(outDir, "index.js");
  fs.mkdirSync(outDir, { recursive: true });
  await build(bundleOptions(fn, file));
  const content = fs.readFileSync(file);
  return { file, bundleBytes: content.length, zipBytes: zipEntryBytes("index.js", content) + ZIP_END_RECORD };
}

/** Inside the child: time the require (module load + factory), print it as JSON. */
const INIT_SCRIPT = `
const t0 = process.hrtime.bigint();
const m = require(process.env.BENCH_ENTRY);
const t1 = process.hrtime.bigint();
if (typeof m.handler !== "function") throw new Error("no handler export");
process.stdout.write(JSON.stringify({ initMs: Number(t1 - t0) / 1e6 }) + "\\n");
`;

async function coldInit(entry: string, env: Record<string, string>, cwd: string) {
  const result = await run(process.execPath, ["-e", INIT_SCRIPT], {
    cwd,
    env: {
      PATH: process.env.PATH,
      AWS_REGION: "us-east-1",
      AWS_ACCESS_KEY_ID: "bench",
      AWS_SECRET_ACCESS_KEY: "bench",
      ...env,
      BENCH_ENTRY: entry,
    },
    timeoutMs: 30_000,
  });
  if (result.code !== 0) throw new Error(`cold init of ${entry} failed:\n${result.stderr.slice(-1500)}`);
  return { initMs: lastJson<{ initMs: number }>(result.stdout).initMs, processMs: result.wallMs };
}

export async function benchPackages(
  all: RegisteredResource[],
  runs: number,
  log: (s: string) => void,
): Promise<PackageFigure[]> {
  const root = lambdaRuntimeRoot();
  const figures: PackageFigure[] = [];
  try {
    for (const fn of all.filter((r) => r.type === "aws:lambda/function:Function")) {
      const handler = handlerOf(fn);
      const env = ((fn.inputs.environment as { variables?: Record<string, string> } | undefined)?.variables ??
        {}) as Record<string, string>;
      const zip = await archiveZip(fn);
      const unpacked = await unpackFunction(fn, root);
      const tb = performance.now();
      const bundle = await esbuildBundle(fn, path.join(root, `${fn.name}-esbuild`));
      const bundleMs = performance.now() - tb;
      const archiveRuns: { initMs: number; processMs: number }[] = [];
      const bundleRuns: { initMs: number; processMs: number }[] = [];
      for (let i = 0; i < runs; i++) {
        archiveRuns.push(await coldInit(path.join(unpacked.dir, "__index.js"), env, unpacked.dir));
        bundleRuns.push(await coldInit(bundle.file, env, path.dirname(bundle.file)));
      }
      const a = {
        init: median(archiveRuns.map((r) => r.initMs)),
        proc: median(archiveRuns.map((r) => r.processMs)),
      };
      const b = {
        init: median(bundleRuns.map((r) => r.initMs)),
        proc: median(bundleRuns.map((r) => r.processMs)),
      };
      const figure: PackageFigure = {
        function: fn.name,
        handler,
        archive: {
          files: zip.files,
          zipBytes: zip.zipBytes,
          unzippedBytes: zip.unzippedBytes,
          packages: zip.packages,
          coldInitMs: round(a.init),
          processMs: round(a.proc),
        },
        esbuild: {
          zipBytes: bundle.zipBytes,
          bundleBytes: bundle.bundleBytes,
          coldInitMs: round(b.init),
          processMs: round(b.proc),
          buildMs: round(bundleMs, 0),
        },
        sizeRatio: ratio(zip.zipBytes, bundle.zipBytes),
        coldInitRatio: ratio(a.init, b.init),
        zipBytesByPart: zip.byPart,
      };
      log(
        `  ${handler.padEnd(17)} zip ${(zip.zipBytes / 1024).toFixed(1)} KB vs ${(bundle.zipBytes / 1024).toFixed(1)} KB (${figure.sizeRatio}x), ` +
          `init ${figure.archive.coldInitMs} ms vs ${figure.esbuild.coldInitMs} ms (${figure.coldInitRatio}x)`,
      );
      figures.push(figure);
    }
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
  return figures;
}
