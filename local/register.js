/**
 * A minimal TypeScript require hook for `npm start`: esbuild's per-file transform (type-stripping
 * only, like `ts-node --transpile-only`, but about 50x faster), so start-up is spent starting the
 * system rather than compiling it. Types are checked by `npm run build` (tsc --noEmit).
 * No source-map-support on purpose: it makes every `new Error().stack` expensive, and Pulumi takes
 * one per promise while the program is captured.
 */
"use strict";
const fs = require("node:fs");
const { transformSync } = require("esbuild");

const previous = require.extensions[".ts"];
require.extensions[".ts"] = function compileTs(module, filename) {
  if (filename.includes(`${require("node:path").sep}node_modules${require("node:path").sep}`) && previous) {
    return previous(module, filename);
  }
  const source = fs.readFileSync(filename, "utf8");
  const { code } = transformSync(source, {
    loader: "ts",
    format: "cjs",
    target: `node${process.versions.node.split(".")[0]}`,
    sourcefile: filename,
    // tsconfig: strict CommonJS output, no decorators, no esModuleInterop.
    tsconfigRaw: { compilerOptions: { esModuleInterop: false, useDefineForClassFields: true } },
  });
  module._compile(code, filename);
};
