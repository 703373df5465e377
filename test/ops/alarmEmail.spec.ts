/**
 * With `alarmEmail` set, the ops topic gets an e-mail subscription and thresholds come from
 * config. The program runs once per process under mocks (program/capture.ts), so this stack
 * variant is captured in a child process.
 */
import { expect } from "chai";
import { execFileSync } from "node:child_process";
import * as path from "node:path";

const ROOT = path.join(__dirname, "..", "..");
const SCRIPT = `
const { captureProgram } = require("./program/capture");
// Code packaging is irrelevant here and most of the capture time.
captureProgram({ packageCode: false, overrides: {
  "orderflow:alarmEmail": "ops@example.com",
  "orderflow:alarmDlqMessages": 5,
  "orderflow:alarmApiLatencyP99Ms": 1500,
  "orderflow:sweepIntervalMinutes": 1,
} }).then((all) => {
  const pick = (t) => all.filter((r) => r.type === t).map((r) => ({ name: r.name, inputs: r.inputs, state: r.state }));
  process.stdout.write("@@" + JSON.stringify({
    subscriptions: pick("aws:sns/topicSubscription:TopicSubscription"),
    topics: pick("aws:sns/topic:Topic"),
    alarms: pick("aws:cloudwatch/metricAlarm:MetricAlarm"),
    rules: pick("aws:cloudwatch/eventRule:EventRule"),
  }) + "\\n");
  process.exit(0);
});
`;

interface R {
  name: string;
  inputs: Record<string, unknown>;
  state: Record<string, unknown>;
}

describe("operations config: alarm e-mail and thresholds", function () {
  this.timeout(120_000);
  let captured: { subscriptions: R[]; topics: R[]; alarms: R[]; rules: R[] };

  before(() => {
    const out = execFileSync(process.execPath, ["-r", "ts-node/register/transpile-only", "-e", SCRIPT], {
      cwd: ROOT,
      encoding: "utf8",
      stdio: ["ignore", "pipe", "ignore"],
      timeout: 110_000,
    });
    captured = JSON.parse(out.split("@@").pop()!) as typeof captured;
  });

  it("subscribes alarmEmail to the ops topic (and only that topic)", () => {
    const ops = captured.topics.find((t) => t.name.endsWith("-ops"))!;
    const email = captured.subscriptions.filter((s) => s.name.endsWith("-ops-email"));
    expect(email).to.have.length(1);
    expect(email[0].inputs).to.deep.equal({
      topic: ops.state.arn,
      protocol: "email",
      endpoint: "ops@example.com",
    });
  });

  it("takes thresholds and the sweep interval from config", () => {
    const alarm = (suffix: string) => captured.alarms.find((a) => a.name.endsWith(`-${suffix}`))!;
    expect(alarm("dlq-messages").inputs.threshold).to.equal(5);
    expect(alarm("api-latency-p99").inputs.threshold).to.equal(1500);
    expect(captured.rules[0].inputs.scheduleExpression).to.equal("rate(1 minute)");
  });
});
