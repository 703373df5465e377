/**
 * The program's entry point (package.json `main`; Pulumi.yaml says `typescript: false`): TypeScript through
 * the content-keyed transpile cache (./register.js), so no ts-node, no build step and no stale
 * output; then ./entry.ts (the preview cuts and index.ts), whose exports are the stack outputs.
 */
"use strict";
require("./register");
module.exports = require("./entry.ts");
