/**
 * The transpile cache behind the TypeScript require hook (./register.js) that `pulumi preview` /
 * `pulumi up` run with (program/main.js). Each project .ts file is transpiled by TypeScript's own
 * `transpileModule` with tsconfig.json's options (what ts-node --transpile-only does, so every
 * function's serialized code is the same), and the output is kept in node_modules/.cache/orderflow-ts under a hash of everything it depends
 * on: the source text, the file's path, tsconfig.json and the TypeScript version. A changed file
 * gets a new key, so stale output can never be loaded and there is no build step to forget. A warm
 * cache doesn't load TypeScript at all.
 *
 * Not esbuild or swc: their CommonJS interop wrappers make Pulumi's serializer capture npm modules
 * by value instead of `require`-ing them. Types are checked by `npm run build` (tsc --noEmit), as
 * with `PULUMI_NODEJS_TRANSPILE_ONLY`. Output carries an inline source map (./register.js turns
 * on Node's own source-map support, so errors point at .ts lines).
 */
"use strict";
const crypto = require("node:crypto");
const fs = require("node:fs");
const path = require("node:path");
const { readEntry, writeEntry } = require("./cacheEntries");

const ROOT = path.join(__dirname, "..");
const TSCONFIG = path.join(ROOT, "tsconfig.json");
const CACHE_DIR =
  process.env.ORDERFLOW_TS_CACHE_DIR || path.join(ROOT, "node_modules", ".cache", "orderflow-ts");
const NODE_MODULES = `${path.sep}node_modules${path.sep}`;

/** Everything but the source that decides the output: a new TypeScript or tsconfig is a new key. */
const BASE_KEY = [
  "orderflow-ts-1",
  JSON.parse(fs.readFileSync(require.resolve("typescript/package.json"), "utf8")).version,
  fs.readFileSync(TSCONFIG, "utf8"),
].join("\0");

let compilerOptions; // loaded with TypeScript, on the first cache miss only

function transpile(source, filename) {
  const ts = require("typescript");
  if (!compilerOptions) {
    const read = ts.readConfigFile(TSCONFIG, ts.sys.readFile);
    if (read.error) throw new Error(ts.flattenDiagnosticMessageText(read.error.messageText, "\n"));
    const parsed = ts.parseJsonConfigFileContent(read.config, ts.sys, ROOT);
    compilerOptions = {
      ...parsed.options,
      sourceMap: false,
      inlineSourceMap: true,
      inlineSources: true,
      declaration: false,
      noEmit: false,
    };
  }
  return ts.transpileModule(source, { fileName: filename, compilerOptions }).outputText;
}

/** Returns the JavaScript for a .ts file, from the cache when its key is there. */
function compiled(filename, cacheDir = CACHE_DIR) {
  const source = fs.readFileSync(filename, "utf8");
  const key = crypto
    .createHash("sha256")
    .update(BASE_KEY)
    .update("\0")
    .update(path.relative(ROOT, filename))
    .update("\0")
    .update(source)
    .digest("hex");
  const cached = path.join(cacheDir, `${key}.js`);
  const hit = readEntry(cached);
  if (hit !== undefined) return hit;
  const code = transpile(source, filename);
  writeEntry(cached, code);
  return code;
}

module.exports = { compiled, CACHE_DIR, NODE_MODULES };
