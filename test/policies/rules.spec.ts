import { expect } from "chai";
import { allPolicies } from "../../policies/rules";
import { blocking, runPack, runPolicy, TestResource, UNKNOWN, withValue } from "../support/policyHarness";
import { goodStack } from "../support/policyFixtures";
import { BAD_CASES } from "./cases";

const byName = new Map(allPolicies.map((p) => [p.name, p]));

/** The same stack without the engine's property dependencies: rules must match references by value. */
const withoutDependencies = (stack: TestResource[]) =>
  stack.map((r) => ({ ...r, propertyDependencies: undefined }));

const unknownFor = (value: unknown) =>
  Array.isArray(value)
    ? UNKNOWN.array
    : typeof value === "object" && value !== null
      ? UNKNOWN.object
      : typeof value === "number"
        ? UNKNOWN.number
        : typeof value === "boolean"
          ? UNKNOWN.boolean
          : UNKNOWN.string;

describe("policy rules on fixtures", () => {
  it("every rule has at least one bad fixture, and every fixture names a rule of the pack", () => {
    const covered = new Set(BAD_CASES.map((c) => c.rule));
    expect(allPolicies.map((p) => p.name).filter((n) => !covered.has(n))).to.deep.equal([]);
    expect([...covered].filter((n) => !byName.has(n))).to.deep.equal([]);
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
      for (const [variant, strip] of [
        ["", false],
        [" (by value)", true],
      ] as const) {
        it(`fires${variant}`, async () => {
          const stack = c.bad(goodStack());
          const result = await runPolicy(byName.get(c.rule)!, strip ? withoutDependencies(stack) : stack);
          const violations = result.diagnostics.filter((d) => !d.unknown);
          expect(violations, "no violation").to.not.be.empty;
          expect(
            violations.every((d) => d.policyName === c.rule && d.enforcementLevel === "mandatory"),
          ).to.equal(true);
          if (c.urn) expect(violations.map((d) => d.urn)).to.include(c.urn);
          expect(result.diagnostics.filter((d) => d.unknown)).to.deep.equal([]);
        });
      }

      it("is quiet on the stack without the change", async () => {
        const result = await runPolicy(byName.get(c.rule)!, goodStack());
        expect(result.diagnostics).to.deep.equal([]);
      });

      if (c.culprit) {
        const { resource, path } = c.culprit;
        it(`neither crashes nor passes when ${resource}.${path} is unknown (preview)`, async () => {
          // Start from the bad stack: whatever the unknown hides, the rule must not call it fine.
          const bad = c.bad(goodStack());
          const badValue = path
            .split(".")
            .reduce<unknown>(
              (o, k) => (o as Record<string, unknown> | undefined)?.[k],
              bad.find((r) => r.name === resource)!.props,
            );
          const goodValue = path
            .split(".")
            .reduce<unknown>(
              (o, k) => (o as Record<string, unknown> | undefined)?.[k],
              goodStack().find((r) => r.name === resource)!.props,
            );
          const sentinel = unknownFor(badValue ?? goodValue);
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

  it("the fixtures do not leak blocking diagnostics into other rules", async () => {
    // A bad fixture may trip related rules too; it must never make the pack crash.
    for (const c of BAD_CASES) {
      const result = await runPack(allPolicies, c.bad(goodStack()));
      expect(
        blocking(result).some((d) => d.policyName === c.rule),
        `${c.rule}: ${c.title}`,
      ).to.equal(true);
    }
  });
});
