/**
 * Runs program/printFingerprint.ts the way `pulumi preview` starts a program: Pulumi's language
 * host (@pulumi/pulumi/cmd/run) opens the closure serializer's inspector session, Debugger on,
 * before it loads the program, and sets PULUMI_NODEJS_MONITOR (here only for the cuts to read:
 * the mocks stay the monitor). `node -r ./program/register.js bench/languageHost.ts --entry main`.
 */
import { installPreviewCuts } from "../program/previewCuts";

// eslint-disable-next-line @typescript-eslint/no-require-imports
const hooks = require("@pulumi/pulumi/runtime/closure/v8Hooks") as { isInitializedAsync(): Promise<void> };

hooks.isInitializedAsync().then(() => {
  installPreviewCuts({ ...process.env, PULUMI_NODEJS_MONITOR: "language-host" });
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  require("../program/printFingerprint");
});
