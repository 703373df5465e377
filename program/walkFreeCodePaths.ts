/**
 * `pulumi.runtime.computeCodePaths` loads the whole node_modules tree with arborist (every package,
 * devDependencies too: about 0.4 s here) to find the packages a function's archive needs: the
 * project's `dependencies` and `extraIncludePackages`, minus `extraExcludePackages`, with their
 * dependencies. Pulumi's own deployment-time packages (a `pulumi` section without
 * `runtimeDependencies`, or an `@pulumi/` name) contribute nothing.
 *
 * This program excludes every runtime package and adds back the few files `require` loads
 * (components/orderFunction.ts), so the walk finds nothing and the answer is the extra include paths
 * alone. {@link walkFreeCodePaths} proves that from the package.json files the walk would start
 * from, and builds the same answer the same way; whenever it can't prove it (a package to include,
 * a workspace, a package missing, anything unreadable) it returns undefined and the walk runs.
 * It mirrors one file, @pulumi/pulumi 3.248's runtime/closure/codePaths.js, pinned by its hash: a
 * Pulumi whose walk reads differently gets the walk (and the spec's "installed" test fails until
 * someone compares the two again and moves the pin).
 */
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";

type CodePaths = Map<string, pulumi.asset.Asset | pulumi.asset.Archive>;

interface PackageJson {
  dependencies?: Record<string, string>;
  workspaces?: unknown;
  pulumi?: { runtimeDependencies?: Record<string, string> };
}

/** sha256 of the codePaths.js this file mirrors. */
export const MIRRORED_CODE_PATHS_SHA256 = "3cf7e85bb909599e49da4df9b9d9c5d3efde82750c204911fb4d6bbe36298097";

interface PulumiHelpers {
  upath: { normalize(p: string): string };
  normalizePackageData: (data: object) => void;
}

let helpers: PulumiHelpers | null | undefined;

/**
 * Pulumi's own helpers, resolved from where Pulumi resolves them, so paths and package data
 * normalize identically; null if the walk is not the one mirrored here or a Pulumi release no
 * longer depends on them (then the walk runs).
 */
export function pulumiHelpers(): PulumiHelpers | null {
  if (helpers === undefined) {
    try {
      const mirrored = fs.readFileSync(require.resolve("@pulumi/pulumi/runtime/closure/codePaths.js"));
      if (crypto.createHash("sha256").update(mirrored).digest("hex") !== MIRRORED_CODE_PATHS_SHA256) {
        throw new Error("a codePaths.js this file does not mirror");
      }
      const from = { paths: [path.dirname(require.resolve("@pulumi/pulumi/package.json"))] };
      helpers = {
        /* eslint-disable @typescript-eslint/no-require-imports */
        upath: require(require.resolve("upath", from)) as PulumiHelpers["upath"],
        normalizePackageData: require(
          require.resolve("normalize-package-data", from),
        ) as PulumiHelpers["normalizePackageData"],
        /* eslint-enable @typescript-eslint/no-require-imports */
      };
    } catch {
      helpers = null;
    }
  }
  return helpers;
}

function readPackageJson(file: string): PackageJson | undefined {
  try {
    return JSON.parse(fs.readFileSync(file, "utf8")) as PackageJson;
  } catch {
    return undefined;
  }
}

function declaresWorkspaces(pkg: PackageJson): boolean {
  const w = pkg.workspaces as { packages?: unknown } | unknown[] | undefined;
  return Array.isArray(w) ? w.length > 0 : Array.isArray(w?.packages) && w.packages.length > 0;
}

/** The packages the walk would start from: `dependencies` as Pulumi normalizes them, plus the included. */
function startingPackages(
  projectDir: string,
  include: readonly string[],
  normalizePackageData: PulumiHelpers["normalizePackageData"],
): string[] | undefined {
  const pkg = readPackageJson(path.join(projectDir, "package.json"));
  if (!pkg) return undefined;
  const data: PackageJson & { name?: string; version?: string } = {
    ...pkg,
    name: undefined,
    version: undefined,
  };
  try {
    normalizePackageData(data); // as Pulumi does: it merges optionalDependencies into dependencies
  } catch {
    return undefined;
  }
  return [...new Set([...include, ...Object.keys(data.dependencies ?? {})])];
}

/** True if the walk would add no folder for this package (and none for anything it depends on). */
function addsNothing(projectDir: string, name: string): boolean {
  const pkg = readPackageJson(path.join(projectDir, "node_modules", name, "package.json"));
  if (!pkg) return false; // missing or unreadable: the walk decides (and warns)
  if (pkg.pulumi) return Object.keys(pkg.pulumi.runtimeDependencies ?? {}).length === 0;
  return name.startsWith("@pulumi");
}

/** The walk's answer without the walk, or undefined when only the walk can tell. */
export function walkFreeCodePaths(options: pulumi.runtime.CodePathOptions): CodePaths | undefined {
  const found = pulumiHelpers();
  if (!found) return undefined;
  const { upath, normalizePackageData } = found;
  // Pulumi searches upward for package.json and for a workspace root: only the simple case here.
  // Paths are relative to the working directory, as Pulumi's are.
  const projectDir = process.cwd();
  if (!fs.existsSync(path.join(projectDir, "package.json"))) return undefined;
  for (let dir = projectDir; ; dir = path.dirname(dir)) {
    const pkg = fs.existsSync(path.join(dir, "package.json"))
      ? readPackageJson(path.join(dir, "package.json"))
      : {};
    if (!pkg || declaresWorkspaces(pkg)) return undefined;
    if (path.dirname(dir) === dir) break;
  }

  const excluded = new Set(options.extraExcludePackages ?? []);
  const starting = startingPackages(projectDir, options.extraIncludePackages ?? [], normalizePackageData);
  if (!starting) return undefined;
  if (!starting.every((name) => excluded.has(name) || addsNothing(projectDir, name))) return undefined;

  // What Pulumi does with the walk's (empty) folder set plus the extra include paths.
  const normalized = new Set((options.extraIncludePaths ?? []).map((p) => upath.normalize(p)));
  const codePaths: CodePaths = new Map();
  for (const p of normalized) {
    if (isSubsumedByHigherPath(p, normalized)) continue;
    let stats: fs.Stats;
    try {
      stats = fs.statSync(p);
    } catch {
      return undefined; // the walk reports a missing include path its own way
    }
    codePaths.set(p, stats.isDirectory() ? new pulumi.asset.FileArchive(p) : new pulumi.asset.FileAsset(p));
  }
  return codePaths;
}

// As Pulumi's: decided by the first other path that is a prefix of this one.
function isSubsumedByHigherPath(p: string, all: Set<string>): boolean {
  for (const other of all) {
    if (p.length > other.length && p.startsWith(other)) return p.charAt(other.length) === "/";
  }
  return false;
}
