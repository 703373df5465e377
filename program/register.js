/**
 * The TypeScript require hook Pulumi runs the program with (program/main.js; also
 * `node -r ./program/register.js some.ts`): project .ts files come from the content-keyed
 * transpile cache (./tsCache.js), files under node_modules go to any hook registered before.
 * Registering replaces the process's `.ts` handler, so tests never load this file in-process.
 */
"use strict";
const { compiled, NODE_MODULES } = require("./tsCache");

const previous = require.extensions[".ts"];
require.extensions[".ts"] = function orderflowTs(module, filename) {
  if (filename.includes(NODE_MODULES) && previous) return previous(module, filename);
  module._compile(compiled(filename), filename);
};
// Stack traces through the inline source maps point at .ts lines (Node's native support: far
// cheaper per stack than ts-node's source-map-support).
process.setSourceMapsEnabled(true);
