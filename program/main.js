/**
 * The program's entry point (Pulumi.yaml `main`, with `typescript: false`): TypeScript through
 * the content-keyed transpile cache (./register.js), so no ts-node, no build step and no stale
 * output; then ./entry.ts (the preview cuts and index.ts), whose exports are the stack outputs.
 */
"use strict";
require("./register");
module.exports = require("./entry.ts");
