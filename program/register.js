/**
 * The TypeScript require hook Pulumi runs the program with (program/main.js; also
 * `node -r ./program/register.js some.ts`): project .ts files come from the content-keyed
 * transpile cache (./tsCache.js), files under node_modules go to any hook registered before.
 * Registering replaces the process's `.ts` handler, so tests never load this file in-process.
 */
"use strict";
const path = require("node:path");
const nodeModule = require("node:module");
const { compiled, NODE_MODULES } = require("./tsCache");

// Node 22.1+: V8's compiled code for every module (@pulumi/aws is most of a preview's loading),
// kept on disk; Node checks each entry against the module's source, so it can't go stale either.
// Node 20 has no enableCompileCache: nothing happens. NODE_DISABLE_COMPILE_CACHE=1 turns it off.
if (typeof nodeModule.enableCompileCache === "function") {
  nodeModule.enableCompileCache(path.join(__dirname, "..", "node_modules", ".cache", "orderflow-v8"));
}

const previous = require.extensions[".ts"];
require.extensions[".ts"] = function orderflowTs(module, filename) {
  if (filename.includes(NODE_MODULES) && previous) return previous(module, filename);
  module._compile(compiled(filename), filename);
};
// Stack traces through the inline source maps point at .ts lines (Node's native support: far
// cheaper per stack than ts-node's source-map-support).
process.setSourceMapsEnabled(true);
