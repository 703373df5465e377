/**
 * What `pulumi preview` and `pulumi up` run (through program/main.js, package.json `main`): the
 * preview cuts first, then the program itself. Its exports are index.ts's, so the stack outputs
 * are unchanged.
 */
import { installPreviewCuts } from "./previewCuts";
installPreviewCuts();

// Loaded after the cuts on purpose: CallbackFunctions package their code while index.ts runs.
// eslint-disable-next-line @typescript-eslint/no-require-imports
export = require("../index") as Record<string, unknown>;
