/**
 * Five cuts to what evaluating the program costs, with the registered resources and every
 * function's serialized code unchanged (test/components/previewCuts.spec.ts compares them with a
 * process that runs without the cuts). Installed by program/entry.ts (through main.js), what
 * `pulumi preview` / `pulumi up` run, and by captureProgram (tests, `npm start`, the bench).
 *
 * - Code-path cache: each CallbackFunction calls `pulumi.runtime.computeCodePaths`, which walks
 *   the whole node_modules tree with arborist (about 0.1 s a call here) and gets the same answer
 *   for the same working directory and options. The first call's result is reused.
 * - Promise stacks: Pulumi's `debuggablePromise` records `new Error().stack` on each of its
 *   ~10,800 internal promises, read only to explain leaks when `PULUMI_DEBUG_PROMISE_LEAKS` is set.
 *   Formatting a stack through ts-node's source-map support costs ~140 µs (issue 15's profile).
 *   The wrapper runs that one function with `Error.stackTraceLimit = 0`, so the recorded stack is
 *   just "Error"; every other Error in the process keeps its stack (no process-wide
 *   `Error.prepareStackTrace` hook).
 * - Walk-free code paths (./walkFreeCodePaths.ts): when every package the walk would start from is
 *   excluded or Pulumi's own, the walk can only find nothing; the answer is built without it.
 * - Parse cache (./closureParseCache.ts): the serializer's TypeScript parse of each function text,
 *   kept under a hash of the text, the Pulumi, TypeScript and Node versions and the global names.
 * - Lazy debugger (./lazyDebugger.ts): the serializer's inspector session without the Debugger
 *   domain, which only names files in error texts; a failed serialization turns it on and runs again.
 *
 * `ORDERFLOW_PREVIEW_CUTS=off` installs none (the baseline the spec and the bench compare with), a
 * cut's name only that one, `-name` all but that one; `PULUMI_DEBUG_PROMISE_LEAKS` keeps the stacks.
 */
import * as pulumi from "@pulumi/pulumi";
import { cacheClosureParses } from "./closureParseCache";
import { installLazyDebugger } from "./lazyDebugger";
import { pulumiHelpers, walkFreeCodePaths } from "./walkFreeCodePaths";

type CodePaths = Map<string, pulumi.asset.Asset | pulumi.asset.Archive>;
type ComputeCodePaths = (options?: pulumi.runtime.CodePathOptions) => Promise<CodePaths>;
type DebuggablePromise = <T>(p: Promise<T>, ctx: unknown) => Promise<T>;

/** The module object Pulumi's runtime calls through (`debuggable_1.debuggablePromise(...)`). */
interface DebuggableModule {
  debuggablePromise: DebuggablePromise;
}

export interface InstalledCuts {
  walkFreeCodePaths: boolean;
  codePathCache: boolean;
  promiseStacks: boolean;
  parseCache: boolean;
  lazyDebugger: boolean;
}

let installed: InstalledCuts | undefined;

const CUT_NAMES: readonly (keyof InstalledCuts)[] = [
  "walkFreeCodePaths",
  "codePathCache",
  "promiseStacks",
  "parseCache",
  "lazyDebugger",
];

/** Which cuts an environment asks for; an ORDERFLOW_PREVIEW_CUTS it doesn't know is an error. */
export function plannedCuts(env: NodeJS.ProcessEnv): InstalledCuts {
  // Unset: all. "off": none. A cut's name: that cut alone; "-name": all but that one (the bench
  // measures what each cut saves).
  const only = env.ORDERFLOW_PREVIEW_CUTS ?? "";
  const known = ["", "off", ...CUT_NAMES, ...CUT_NAMES.map((c) => `-${c}`)];
  if (!known.includes(only)) {
    throw new Error(
      `ORDERFLOW_PREVIEW_CUTS=${only}: expected off, a cut's name or -name (cuts: ${CUT_NAMES.join(", ")})`,
    );
  }
  const wants = (cut: keyof InstalledCuts) =>
    only === "" || only === cut || (only.startsWith("-") && only !== `-${cut}`);
  const plan = Object.fromEntries(CUT_NAMES.map((cut) => [cut, wants(cut)])) as unknown as InstalledCuts;
  if (env.PULUMI_DEBUG_PROMISE_LEAKS) plan.promiseStacks = false; // leak reports need the stacks
  return plan;
}

/** Installs the cuts once per process; later calls return what the first one did. */
export function installPreviewCuts(env: NodeJS.ProcessEnv = process.env): InstalledCuts {
  if (installed) return installed;
  const plan = plannedCuts(env);
  installed = {
    // First, so the cache below keeps whichever answer it gives.
    walkFreeCodePaths: plan.walkFreeCodePaths && attempt(skipNeedlessWalks),
    codePathCache: plan.codePathCache && attempt(cacheCodePaths),
    promiseStacks: plan.promiseStacks && attempt(skipPromiseStacks),
    parseCache: plan.parseCache && attempt(cacheClosureParses),
    // The language host (pulumi preview / up) sets PULUMI_NODEJS_MONITOR and opens its inspector
    // session, with the Debugger, before it loads the program.
    lazyDebugger:
      plan.lazyDebugger &&
      attempt(() => installLazyDebugger(Boolean(env.PULUMI_NODEJS_MONITOR)) !== undefined),
  };
  return installed;
}

/**
 * A cut that can't install (a Pulumi release moved a module it reaches into) is left out: the
 * program runs as stock Pulumi would, only slower. Each cut reads everything before it replaces
 * anything, so a failure leaves nothing half-installed.
 */
function attempt(install: () => boolean): boolean {
  try {
    return install();
  } catch {
    return false;
  }
}

/**
 * Replaces `pulumi.runtime.computeCodePaths` (what CallbackFunction calls) with `answer`, which
 * gets the options and the function it replaced. The deprecated array form goes straight through.
 */
function wrapComputeCodePaths(
  answer: (options: pulumi.runtime.CodePathOptions, replaced: ComputeCodePaths) => Promise<CodePaths>,
): void {
  const runtime = pulumi.runtime as unknown as { computeCodePaths: ComputeCodePaths };
  const replaced = runtime.computeCodePaths;
  runtime.computeCodePaths = function wrappedComputeCodePaths(this: unknown, ...args: unknown[]) {
    const options = args[0] as pulumi.runtime.CodePathOptions | undefined;
    return args.length === 1 && options && !Array.isArray(options)
      ? answer(options, (o) => replaced.call(this, o))
      : (replaced as (...a: unknown[]) => Promise<CodePaths>).apply(this, args);
  } as ComputeCodePaths;
}

function skipNeedlessWalks(): boolean {
  if (!pulumiHelpers()) return false; // not the walk mirrored there: the walk stays
  wrapComputeCodePaths((options, walk) => {
    const answer = walkFreeCodePaths(options);
    return answer ? Promise.resolve(answer) : walk(options);
  });
  return true;
}

function cacheCodePaths(): boolean {
  const cache = new Map<string, Promise<CodePaths>>();
  wrapComputeCodePaths((options, walk) => {
    if (options.logResource) return walk(options); // an object, not a key
    // Option order is kept in the key: it decides the order of the archive's entries.
    const key = JSON.stringify([
      process.cwd(),
      options.extraIncludePaths ?? [],
      options.extraIncludePackages ?? [],
      options.extraExcludePackages ?? [],
    ]);
    let paths = cache.get(key);
    if (!paths) {
      paths = walk(options);
      cache.set(key, paths);
      paths.catch(() => cache.delete(key)); // a failed walk is retried, not remembered
    }
    // Each caller gets its own Map (callers may add to it); the assets are immutable and shared.
    return paths.then((found) => new Map(found));
  });
  return true;
}

function skipPromiseStacks(): boolean {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const debuggable = require("@pulumi/pulumi/runtime/debuggable") as DebuggableModule;
  const original = debuggable.debuggablePromise;
  if (typeof original !== "function") return false; // a Pulumi that moved it: nothing to cut
  debuggable.debuggablePromise = function debuggablePromiseWithoutStack<T>(p: Promise<T>, ctx: unknown) {
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    try {
      return original(p, ctx);
    } finally {
      Error.stackTraceLimit = limit;
    }
  };
  return true;
}
