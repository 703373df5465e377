/**
 * Runs the program under the mocks and prints its fingerprint (./fingerprint.ts) as one JSON line:
 * `node -r ts-node/register/transpile-only program/printFingerprint.ts`. A script file on purpose:
 * under `node -e`, `exports` is a global, so Pulumi's serializer leaves it out of a handler that
 * reads `exports.X` (the code would deploy and then fail), and the comparison would be wrong.
 */
import { captureProgram } from "./capture";
import { fingerprint } from "./fingerprint";

captureProgram()
  .then(fingerprint)
  .then((f) => {
    process.stdout.write(JSON.stringify(f) + "\n");
    process.exit(0);
  })
  .catch((err: unknown) => {
    process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  });
