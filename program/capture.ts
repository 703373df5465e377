import * as pulumi from "@pulumi/pulumi";
import { installPulumiMocks, registered, RegisteredResource } from "./mocks";
import { installPreviewCuts } from "./previewCuts";
import { readStackConfig, toRuntimeConfig } from "./stackConfig";

export type { RegisteredResource } from "./mocks";

export interface CaptureOptions {
  /** Stack file to read (`Pulumi.<stack>.yaml`). @default "dev" */
  stack?: string;
  /** Values that replace the stack file's (same keys, e.g. `orderflow:heartbeatSeconds`). */
  overrides?: Record<string, unknown>;
  /**
   * Build each CallbackFunction's code archive, as `pulumi up` does. `false` replaces Pulumi's
   * closure serializer and code-path walk with no-ops for the whole process (most of the capture
   * time): for a process that never reads a function's `code`, such as `npm start`.
   * @default true
   */
  packageCode?: boolean;
  /**
   * The module to run: `index` (the program) or `main` (program/main.js, what Pulumi.yaml runs:
   * the transpile cache's require hook, the preview cuts, then index.ts). `main` replaces the
   * process's `.ts` require hook: for child processes only.
   * @default "index"
   */
  entry?: "index" | "main";
}

let captured: Promise<RegisteredResource[]> | undefined;
let outputNames: string[] = [];

/** The names the captured program exported (its stack outputs), once captureProgram resolved. */
export function capturedOutputNames(): string[] {
  return [...outputNames];
}

/**
 * Runs the real program (index.ts) under Pulumi's mocks and returns every resource it registers,
 * inputs resolved. What tests, the policy pack and the offline runtime read is therefore what
 * `pulumi up` would send. The program can run once per process (module cache, global mock state),
 * so the first call's options win; later calls get the same result.
 */
export function captureProgram(options: CaptureOptions = {}): Promise<RegisteredResource[]> {
  captured ??= run(options);
  return captured;
}

async function run(options: CaptureOptions): Promise<RegisteredResource[]> {
  if (options.packageCode === false) {
    // No code is packaged, so the serializer's cuts would only be set up to be replaced.
    installPreviewCuts({ ...process.env, ORDERFLOW_PREVIEW_CUTS: "promiseStacks" });
    skipCodePackaging();
  } else {
    installPreviewCuts(); // as `pulumi preview` runs it (program/entry.ts)
  }
  installPulumiMocks({
    ...readStackConfig(options.stack ?? "dev"),
    ...toRuntimeConfig(options.overrides ?? {}),
  });
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const program = require(options.entry === "main" ? "./main.js" : "../index") as Record<string, unknown>;
  outputNames = Object.keys(program).sort();
  const outputs = Object.values(program).filter((value) => pulumi.Output.isInstance(value));
  await new Promise<void>((resolve) => pulumi.all(outputs).apply(() => resolve()));
  await settled();
  // A snapshot: resources registered later in the same process (test probes) are not the program's.
  return [...registered];
}

/** Resources created inside `apply` callbacks register late: wait until the count stops moving. */
export async function settled(): Promise<void> {
  let last = -1;
  let stableTicks = 0;
  while (stableTicks < 3) {
    await new Promise((resolve) => setTimeout(resolve, 25));
    if (registered.length === last) stableTicks++;
    else {
      stableTicks = 0;
      last = registered.length;
    }
  }
}

/** Resources of one type, e.g. `byType(all, "aws:sqs/queue:Queue")`. */
export function byType(resources: RegisteredResource[], type: string): RegisteredResource[] {
  return resources.filter((r) => r.type === type);
}

/** Replaces Pulumi's closure serializer and code-path walk with no-ops for the whole process. */
export function skipCodePackaging(): void {
  const runtime = pulumi.runtime as unknown as Record<string, unknown>;
  runtime.serializeFunction = async () => ({
    text: "// code packaging skipped (captureProgram packageCode: false)\n",
    exportName: "handler",
    containsSecrets: false,
  });
  runtime.computeCodePaths = async () => new Map();
}
