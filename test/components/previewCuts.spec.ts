/**
 * The preview cuts (program/previewCuts.ts) and the exclude-list fix change how fast the program
 * runs, never what it registers: the resources and every function's serialized code are compared
 * with a child process that runs the program without the cuts.
 */
import { expect } from "chai";
import { execFile } from "node:child_process";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { EXCLUDED_PACKAGES, RUNTIME_FILES } from "../../components/orderFunction";
import { fingerprint, type ProgramFingerprint } from "../../program/fingerprint";
import { installPreviewCuts, plannedCuts } from "../../program/previewCuts";
import { captureProgram, HANDLER_IDS, RegisteredResource } from "../support/program";

const ROOT = path.join(__dirname, "..", "..");

function fingerprintInChild(env: NodeJS.ProcessEnv, args: string[]): Promise<ProgramFingerprint> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      [...args, path.join(ROOT, "program", "printFingerprint.ts")],
      { cwd: ROOT, env: { ...process.env, ...env }, timeout: 110_000, maxBuffer: 1 << 20 },
      (error, stdout, stderr) => {
        if (error) return reject(new Error(`${error.message}\n${stderr.slice(-1500)}`));
        resolve(JSON.parse(stdout.trim().split("\n").pop()!) as ProgramFingerprint);
      },
    );
  });
}

interface DebuggablePromiseRecord {
  _debugStackTrace: string;
}

describe("preview cuts: faster, same resources and code", function () {
  this.timeout(120_000);
  let all: RegisteredResource[];
  let withoutCuts: Promise<ProgramFingerprint>;

  before(async () => {
    // Started first so the child runs while this process captures.
    withoutCuts = fingerprintInChild({ ORDERFLOW_PREVIEW_CUTS: "off" }, [
      "-r",
      "ts-node/register/transpile-only",
    ]);
    withoutCuts.catch(() => undefined); // reported by the test that awaits it
    all = await captureProgram();
  });

  it("are installed in this process (so the comparison below compares something)", () => {
    expect(installPreviewCuts()).to.deep.equal({ codePathCache: true, promiseStacks: true });
  });

  it("register the same resources and serialized code as a process without them", async () => {
    const here = await fingerprint(all);
    const baseline = await withoutCuts;
    expect(Object.keys(here.code).sort()).to.have.length(HANDLER_IDS.length);
    expect(here.code).to.deep.equal(baseline.code);
    expect(here.resources).to.equal(baseline.resources);
    expect(here.digest).to.equal(baseline.digest);
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
    expect(plannedCuts({})).to.deep.equal({ codePathCache: true, promiseStacks: true });
    expect(plannedCuts({ PULUMI_DEBUG_PROMISE_LEAKS: "1" })).to.deep.equal({
      codePathCache: true,
      promiseStacks: false,
    });
    expect(plannedCuts({ ORDERFLOW_PREVIEW_CUTS: "off" })).to.deep.equal({
      codePathCache: false,
      promiseStacks: false,
    });
  });
});
