/**
 * Runs the program under the mocks and prints its fingerprint (./fingerprint.ts) as one JSON line:
 * `node -r ts-node/register/transpile-only program/printFingerprint.ts`. A script file on purpose:
 * under `node -e`, `exports` is a global, so Pulumi's serializer leaves it out of a handler that
 * reads `exports.X` (the code would deploy and then fail), and the comparison would be wrong.
 */
import { captureProgram, capturedOutputNames } from "./capture";
import { fingerprint } from "./fingerprint";

// `--entry main`: through program/main.js, as Pulumi.yaml runs it.
const entry = process.argv.includes("--entry") ? process.argv[process.argv.indexOf("--entry") + 1] : "index";

captureProgram({ entry: entry === "main" ? "main" : "index" })
  .then(fingerprint)
  .then((f) => {
    // cpuMs: this process's CPU time (user + system), steadier than wall time on a busy machine.
    const cpu = process.cpuUsage();
    process.stdout.write(
      JSON.stringify({
        ...f,
        outputs: capturedOutputNames(),
        cpuMs: Math.round((cpu.user + cpu.system) / 1000),
      }) + "\n",
    );
    process.exit(0);
  })
  .catch((err: unknown) => {
    process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  });
