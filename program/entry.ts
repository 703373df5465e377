/**
 * The entry point `pulumi preview` and `pulumi up` run (Pulumi.yaml `main`): the preview cuts
 * first, then the program itself. Its exports are the program's, so the stack outputs are
 * index.ts's exports, unchanged.
 */
import { installPreviewCuts } from "./previewCuts";
installPreviewCuts();

// Loaded after the cuts on purpose: CallbackFunctions package their code while index.ts runs.
// eslint-disable-next-line @typescript-eslint/no-require-imports
export = require("../index") as Record<string, unknown>;
