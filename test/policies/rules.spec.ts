import { expect } from "chai";
import { allPolicies } from "../../policies/rules";
import {
  blocking,
  isStackPolicy,
  runPack,
  runPolicy,
  sentinelFor,
  TestResource,
  valueAt,
  withValue,
} from "../support/policyHarness";
import { changed, consumerPolicy, goodStack, mockArn } from "../support/policyFixtures";
import { actionInfo } from "../../policies/rules/iamActions";
import { BAD_CASES } from "./cases";

const byName = new Map(allPolicies.map((p) => [p.name, p]));

/** The same stack without the engine's property dependencies: rules must match references by value. */
const withoutDependencies = (stack: TestResource[]) =>
  stack.map((r) => ({ ...r, propertyDependencies: undefined }));

describe("policy rules on fixtures", () => {
  it("every rule has at least one bad fixture, and every fixture names a rule of the pack", () => {
    const covered = new Set(BAD_CASES.map((c) => c.rule));
    expect(allPolicies.map((p) => p.name).filter((n) => !covered.has(n))).to.deep.equal([]);
    expect([...covered].filter((n) => !byName.has(n))).to.deep.equal([]);
  });

  it("every rule has at least three bad fixtures (the broadest inputs that must still be blocked)", () => {
    const count = new Map<string, number>();
    for (const c of BAD_CASES) count.set(c.rule, (count.get(c.rule) ?? 0) + 1);
    expect(allPolicies.map((p) => p.name).filter((n) => (count.get(n) ?? 0) < 3)).to.deep.equal([]);
    const titles = BAD_CASES.map((c) => `${c.rule}: ${c.title}`);
    expect(
      titles.filter((t, i) => titles.indexOf(t) !== i),
      "duplicate titles",
    ).to.deep.equal([]);
  });

  for (const [variant, stack] of [
    ["with property dependencies", goodStack()],
    ["matching references by value", withoutDependencies(goodStack())],
  ] as const) {
    it(`the whole pack is quiet on the happy-path stack (${variant})`, async () => {
      const result = await runPack(allPolicies, stack);
      expect(result.diagnostics.map((d) => `${d.policyName}: ${d.detail}`)).to.deep.equal([]);
    });
  }

  for (const c of BAD_CASES) {
    describe(`${c.rule}: ${c.title}`, () => {
      const rule = byName.get(c.rule)!;
      // Only stack policies match references between resources; a resource policy sees one resource.
      const variants = isStackPolicy(rule)
        ? ([
            ["", false],
            [" (by value)", true],
          ] as const)
        : ([["", false]] as const);
      for (const [variant, strip] of variants) {
        it(`fires${variant}`, async () => {
          const stack = c.bad(goodStack());
          // runPolicy runs this rule alone: every diagnostic is the rule's own.
          const result = await runPolicy(rule, strip ? withoutDependencies(stack) : stack);
          const violations = result.diagnostics.filter((d) => !d.unknown);
          expect(violations, "no violation").to.not.be.empty;
          expect(violations.every((d) => d.enforcementLevel === "mandatory")).to.equal(true);
          if (c.urn) expect(violations.map((d) => d.urn)).to.include(c.urn);
          expect(result.diagnostics.filter((d) => d.unknown)).to.deep.equal([]);
        });
      }

      if (c.culprit) {
        const { resource, path } = c.culprit;
        it(`neither crashes nor passes when ${resource}.${path} is unknown (preview)`, async () => {
          // Start from the bad stack: whatever the unknown hides, the rule must not call it fine.
          const bad = c.bad(goodStack());
          const badValue = valueAt(bad.find((r) => r.name === resource)!.props, path);
          const goodValue = valueAt(goodStack().find((r) => r.name === resource)!.props, path);
          const sentinel = sentinelFor(badValue ?? goodValue);
          const stack = bad.map((r) =>
            r.name === resource ? { ...r, props: withValue(r.props, path, sentinel) } : r,
          );
          const result = await runPolicy(byName.get(c.rule)!, stack);
          const mine = result.diagnostics.filter((d) => d.policyName === c.rule);
          expect(mine, "the rule passed silently on an unknown value").to.not.be.empty;
          for (const d of mine.filter((x) => x.unknown)) {
            expect(d.enforcementLevel).to.equal("advisory");
            expect(d.message).to.match(/can't be known during preview/);
          }
        });
      }
    });
  }

  it("the whole pack blocks each bad fixture through its own rule, and never crashes on one", async () => {
    // A bad fixture may trip related rules too; that is allowed. Resource rules see one resource
    // at a time, and on the happy path's own resources they are quiet (tested above): so they run
    // on what the fixture changed or added, stack rules on the whole stack (same verdicts, 5x faster).
    const good = new Map(goodStack().map((r) => [r.name, JSON.stringify(r)]));
    const stackRules = allPolicies.filter(isStackPolicy);
    const resourceRules = allPolicies.filter((p) => !isStackPolicy(p));
    for (const c of BAD_CASES) {
      const stack = c.bad(goodStack());
      const touched = stack.filter((r) => good.get(r.name) !== JSON.stringify(r));
      const result = await runPack(resourceRules, touched);
      const stackResult = await runPack(stackRules, stack);
      result.diagnostics.push(...stackResult.diagnostics);
      expect(
        blocking(result).some((d) => d.policyName === c.rule),
        `${c.rule}: ${c.title}`,
      ).to.equal(true);
    }
  });

  describe("a wildcard action is reported once, by iam-no-wildcard-actions", () => {
    for (const action of ["*", "dynamodb:*", "*:*", "s*:*", "?3:*"]) {
      it(action, async () => {
        const policy = JSON.parse(consumerPolicy()) as { Statement: unknown[] };
        policy.Statement.push({
          Effect: "Allow",
          Action: action,
          Resource: mockArn("dynamodb", "table/orders"),
        });
        const stack = changed(
          goodStack(),
          "process-payment-policy",
          (p) => (p.policy = JSON.stringify(policy)),
        );
        const details = async (name: string) =>
          (await runPolicy(byName.get(name)!, stack)).diagnostics.map((d) => d.detail);
        expect(await details("iam-no-wildcard-actions")).to.have.lengthOf(1);
        // The pattern rule and the unknown-action rule leave it alone: one defect, one report.
        expect(await details("iam-no-broad-action-patterns")).to.deep.equal([]);
        expect(await details("iam-known-actions")).to.deep.equal([]);
      });
    }

    it("a service-wildcard `*` reads as every action without listing them, unless it names no service", async () => {
      expect((await actionInfo("*:*")).matches).to.deep.equal(["*"]);
      expect((await actionInfo("s*:*")).matches).to.deep.equal(["*"]);
      expect((await actionInfo("zz*:*")).invalid).to.match(/matches no action/);
    });
  });

  it("a service's Lambda permission without sourceArn is blocked by one rule, not two", async () => {
    for (const sourceArn of [undefined, ""]) {
      const stack = changed(goodStack(), "process-payment-invoke", (p) => (p.sourceArn = sourceArn));
      const permission = stack.filter((r) => r.name === "process-payment-invoke");
      const rules = allPolicies.filter((p) => !isStackPolicy(p));
      const names = blocking(await runPack(rules, permission)).map((d) => d.policyName);
      expect(names, String(sourceArn)).to.deep.equal(["resource-policy-service-source-condition"]);
    }
  });
});
