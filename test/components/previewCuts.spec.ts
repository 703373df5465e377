/**
 * The preview cuts (program/previewCuts.ts) and the exclude-list fix change how fast the program
 * runs, never what it registers: the resources and every function's serialized code are compared
 * with a child process that runs the program without the cuts.
 */
import { expect } from "chai";
import { execFile } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { parse } from "yaml";
import { EXCLUDED_PACKAGES, RUNTIME_FILES } from "../../components/orderFunction";
import { fingerprint, type ProgramFingerprint } from "../../program/fingerprint";
import { installPreviewCuts, plannedCuts } from "../../program/previewCuts";
import { walkFreeCodePaths } from "../../program/walkFreeCodePaths";
import { capturedOutputNames } from "../../program/capture";
import { captureProgram, HANDLER_IDS, RegisteredResource } from "../support/program";

const ROOT = path.join(__dirname, "..", "..");

type ChildFingerprint = ProgramFingerprint & { outputs: string[] };

function fingerprintInChild(
  env: NodeJS.ProcessEnv,
  args: string[],
  entry = "index",
): Promise<ChildFingerprint> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      [...args, path.join(ROOT, "program", "printFingerprint.ts"), "--entry", entry],
      { cwd: ROOT, env: { ...process.env, ...env }, timeout: 200_000, maxBuffer: 1 << 20 },
      (error, stdout, stderr) => {
        if (error) return reject(new Error(`${error.message}\n${stderr.slice(-1500)}`));
        resolve(JSON.parse(stdout.trim().split("\n").pop()!) as ChildFingerprint);
      },
    );
  });
}

interface DebuggablePromiseRecord {
  _debugStackTrace: string;
}

describe("preview cuts: faster, same resources and code", function () {
  // Generous: three programs run at once here, on a machine other work shares (about 10 s alone).
  this.timeout(240_000);
  let all: RegisteredResource[];
  let withoutCuts: Promise<ChildFingerprint>;
  let viaMain: Promise<ChildFingerprint>;
  const coldCache = fs.mkdtempSync(path.join(os.tmpdir(), "orderflow-ts-spec-"));

  before(async () => {
    // Started first so the children run while this process captures.
    withoutCuts = fingerprintInChild({ ORDERFLOW_PREVIEW_CUTS: "off" }, [
      "-r",
      "ts-node/register/transpile-only",
    ]);
    // What Pulumi.yaml runs: program/main.js, no ts-node, an empty transpile cache.
    viaMain = fingerprintInChild(
      { ORDERFLOW_TS_CACHE_DIR: coldCache },
      ["-r", "./program/register.js"],
      "main",
    );
    withoutCuts.catch(() => undefined); // reported by the tests that await them
    viaMain.catch(() => undefined);
    all = await captureProgram();
  });

  after(() => fs.rmSync(coldCache, { recursive: true, force: true }));

  it("are installed in this process (so the comparison below compares something)", () => {
    expect(installPreviewCuts()).to.deep.equal({
      walkFreeCodePaths: true,
      codePathCache: true,
      promiseStacks: true,
      parseCache: true,
      lazyDebugger: true,
    });
  });

  it("register the same resources and serialized code as a process without them", async () => {
    const here = await fingerprint(all);
    const baseline = await withoutCuts;
    expect(Object.keys(here.code).sort()).to.have.length(HANDLER_IDS.length);
    expect(here.code).to.deep.equal(baseline.code);
    expect(here.resources).to.equal(baseline.resources);
    expect(here.digest).to.equal(baseline.digest);
  });

  it("run from program/main.js (package.json main, as Pulumi runs it; transpile cache) with the same resources, code and outputs", async () => {
    // What Pulumi runs: no `main` in Pulumi.yaml, so package.json's; no ts-node.
    const project = parse(fs.readFileSync(path.join(ROOT, "Pulumi.yaml"), "utf8")) as {
      main?: string;
      runtime: { options: { typescript: boolean } };
    };
    const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, "package.json"), "utf8")) as { main: string };
    expect(project.main).to.equal(undefined);
    expect(project.runtime.options.typescript).to.equal(false);
    expect(pkg.main).to.equal("program/main.js");
    const here = await fingerprint(all);
    const main = await viaMain;
    expect(main.code).to.deep.equal(here.code);
    expect(main.digest).to.equal(here.digest);
    expect(capturedOutputNames()).to.include.members(["apiUrl", "dashboardUrl"]);
    expect(main.outputs).to.deep.equal(capturedOutputNames());
    expect(fs.readdirSync(coldCache).filter((f) => f.endsWith(".js")).length).to.be.greaterThan(40);
  });

  it("leave the shared exclude and include lists as written (each function gets a copy)", () => {
    expect(EXCLUDED_PACKAGES).not.to.include("aws-sdk");
    expect(new Set(EXCLUDED_PACKAGES).size).to.equal(EXCLUDED_PACKAGES.length);
    expect(new Set(RUNTIME_FILES).size).to.equal(RUNTIME_FILES.length);
    // Frozen, so a library that writes into them throws instead of growing them.
    expect(Object.isFrozen(EXCLUDED_PACKAGES)).to.equal(true);
    expect(Object.isFrozen(RUNTIME_FILES)).to.equal(true);
  });

  it("reuse a code-path walk only for the same options", async () => {
    const options = { extraExcludePackages: [...EXCLUDED_PACKAGES], extraIncludePaths: [...RUNTIME_FILES] };
    const a = await pulumi.runtime.computeCodePaths(options);
    const b = await pulumi.runtime.computeCodePaths({ ...options });
    expect(a).not.to.equal(b); // each caller its own Map
    expect([...a.keys()]).to.deep.equal([...b.keys()]);
    for (const [key, value] of a) expect(b.get(key), key).to.equal(value); // the same walk's assets
    const fewer = await pulumi.runtime.computeCodePaths({ ...options, extraExcludePackages: [] });
    expect([...fewer.keys()]).to.include.members(["node_modules/valibot"]);
    expect([...a.keys()]).not.to.include("node_modules/valibot");
  });

  it("build the code-path walk's own answer without it, and only when the walk can find nothing", async () => {
    // Pulumi's walk itself: pulumi.runtime.computeCodePaths is the cut's wrapper in this process.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { computeCodePaths: walk } = require("@pulumi/pulumi/runtime/closure/codePaths") as {
      computeCodePaths: (o: pulumi.runtime.CodePathOptions) => Promise<Map<string, object>>;
    };
    const described = async (paths: Map<string, object>) => {
      const out: string[] = [];
      for (const [key, value] of paths) {
        const kind = pulumi.asset.Archive.isInstance(value) ? "archive" : "asset";
        out.push(`${key} ${kind} ${await (value as { path: Promise<string> }).path}`);
      }
      return out;
    };
    // As each function asks (CallbackFunction adds "aws-sdk"), then variations the shortcut must
    // either answer exactly as the walk does or leave to it.
    const program = {
      extraExcludePackages: [...EXCLUDED_PACKAGES, "aws-sdk"],
      extraIncludePaths: [...RUNTIME_FILES],
    };
    const answered = [
      program,
      { ...program, extraIncludePaths: ["node_modules/valibot", ...RUNTIME_FILES, "./components"] },
      { ...program, extraIncludePackages: ["@pulumi/aws"] },
    ];
    for (const options of answered) {
      const shortcut = walkFreeCodePaths(options);
      expect(shortcut, JSON.stringify(options)).not.to.equal(undefined);
      expect(await described(shortcut!)).to.deep.equal(await described(await walk(options)));
    }
    expect(await described(walkFreeCodePaths(program)!)).to.have.length(RUNTIME_FILES.length);
    const walked = [
      { ...program, extraExcludePackages: program.extraExcludePackages.filter((p) => p !== "valibot") },
      { ...program, extraIncludePackages: ["yaml"] },
      { ...program, extraIncludePackages: ["no-such-package"] },
      { ...program, extraIncludePaths: ["node_modules/no-such-file.js"] },
    ];
    for (const options of walked)
      expect(walkFreeCodePaths(options), JSON.stringify(options)).to.equal(undefined);
  });

  it("drop the stack of Pulumi's promise records only", async () => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const debuggable = require("@pulumi/pulumi/runtime/debuggable") as {
      debuggablePromise: <T>(p: Promise<T>, ctx: string) => Promise<T>;
    };
    const limit = Error.stackTraceLimit;
    const record = Promise.resolve(1);
    expect(await debuggable.debuggablePromise(record, "probe")).to.equal(1);
    expect((record as unknown as DebuggablePromiseRecord)._debugStackTrace).to.equal("Error");
    expect(Error.stackTraceLimit).to.equal(limit);
    expect(new Error("elsewhere").stack).to.match(/\n\s+at /);
    const failed = debuggable.debuggablePromise(Promise.reject(new Error("kept")), "probe");
    const err = await failed.then(
      () => undefined,
      (e: Error) => e,
    );
    expect(err?.stack).to.match(/^Error: kept\n\s+at /);
  });

  it("keep every stack when leak debugging is on, and none when switched off", () => {
    const none = {
      walkFreeCodePaths: false,
      codePathCache: false,
      promiseStacks: false,
      parseCache: false,
      lazyDebugger: false,
    };
    const all = {
      walkFreeCodePaths: true,
      codePathCache: true,
      promiseStacks: true,
      parseCache: true,
      lazyDebugger: true,
    };
    expect(plannedCuts({})).to.deep.equal(all);
    expect(plannedCuts({ PULUMI_DEBUG_PROMISE_LEAKS: "1" })).to.deep.equal({ ...all, promiseStacks: false });
    expect(plannedCuts({ ORDERFLOW_PREVIEW_CUTS: "off" })).to.deep.equal(none);
    for (const cut of Object.keys(all)) {
      expect(plannedCuts({ ORDERFLOW_PREVIEW_CUTS: cut }), cut).to.deep.equal({ ...none, [cut]: true });
      expect(plannedCuts({ ORDERFLOW_PREVIEW_CUTS: `-${cut}` }), `-${cut}`).to.deep.equal({
        ...all,
        [cut]: false,
      });
    }
    expect(
      plannedCuts({ ORDERFLOW_PREVIEW_CUTS: "promiseStacks", PULUMI_DEBUG_PROMISE_LEAKS: "1" }),
    ).to.deep.equal(none);
    for (const typo of ["parsecache", "-nothing", "all"]) {
      expect(() => plannedCuts({ ORDERFLOW_PREVIEW_CUTS: typo }), typo).to.throw(/ORDERFLOW_PREVIEW_CUTS/);
    }
  });

  it("transpile cache: a changed file is transpiled again, never served stale", () => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { compiled } = require("../../program/tsCache.js") as {
      compiled: (filename: string, cacheDir?: string) => string;
    };
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "orderflow-ts-stale-"));
    try {
      const file = path.join(dir, "probe.ts");
      const cache = path.join(dir, "cache");
      const entries = () => fs.readdirSync(cache).filter((f) => f.endsWith(".js"));
      fs.writeFileSync(file, "export const answer: number = 1;\n");
      expect(compiled(file, cache)).to.match(/exports\.answer = 1;/);
      expect(entries()).to.have.length(1);
      expect(compiled(file, cache)).to.match(/exports\.answer = 1;/); // a hit: no new entry
      expect(entries()).to.have.length(1);
      // Same length, same mtime second: only the content tells them apart.
      const stat = fs.statSync(file);
      fs.writeFileSync(file, "export const answer: number = 2;\n");
      fs.utimesSync(file, stat.atime, stat.mtime);
      expect(compiled(file, cache)).to.match(/exports\.answer = 2;/);
      expect(entries()).to.have.length(2);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
