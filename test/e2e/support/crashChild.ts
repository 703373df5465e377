/**
 * One offline system in its own process, for crash.spec.ts to SIGKILL: the topology the spec
 * captured once (a JSON file, so each restart skips the program capture), a --data-dir, the e2e
 * specs' short timings (offline.ts E2E_TIMINGS). Prints one JSON line `{"ready":…}` on stdout
 * when the API is up (handler logs are JSON lines too, so the spec looks for that key).
 *
 *   node -r ./local/register.js test/e2e/support/crashChild.ts <topology.json> <data-dir> <api-key>
 */
import "../../../local/polyfills";
import { readFileSync } from "node:fs";
import { startOfflineSystem } from "../../../local/system";
import type { LocalTopology } from "../../../local/topology";
import { E2E_TIMINGS } from "./offline";

const [topologyFile, dataDir, apiKey] = process.argv.slice(2);
startOfflineSystem({
  topology: JSON.parse(readFileSync(topologyFile, "utf8")) as LocalTopology,
  dataDir,
  apiKey,
  port: 0,
  throttle: false,
  timings: E2E_TIMINGS,
  logLevel: "warn",
}).then(
  (system) =>
    process.stdout.write(
      `${JSON.stringify({ ready: { url: system.url, dynamo: system.dynamo.endpoint, recovery: system.recovery } })}\n`,
    ),
  (err: Error) => {
    process.stderr.write(`crash child failed to start: ${err.stack ?? err.message}\n`);
    process.exit(1);
  },
);
