/**
 * The whole pack against the resources the program itself registers under mocks (what
 * `pulumi up` would send), after an update (all values known) and as a first preview sees them.
 */
import { expect } from "chai";
import { captureProgram } from "../../program/capture";
import { allPolicies } from "../../policies/rules";
import {
  asPreview,
  blocking,
  fromRegistered,
  runPack,
  RunResult,
  TestResource,
} from "../support/policyHarness";
import { COMPUTED_KEYS } from "../support/policyFixtures";
import { T } from "../support/program";

describe("the policy pack on the program", function () {
  this.timeout(120_000);
  let resources: TestResource[];
  let afterUpdate: RunResult;

  before(async () => {
    resources = (await captureProgram()).map((r) => fromRegistered(r));
    afterUpdate = await runPack(allPolicies, resources);
  });

  it("captures the program's AWS resources", () => {
    const types = new Set(resources.map((r) => r.type));
    for (const t of [T.queue, T.fn, T.stateMachine, T.stage]) {
      expect(types, t).to.include(t);
    }
  });

  it("has zero violations after an update (all values known)", () => {
    expect(
      afterUpdate.diagnostics.map((d) => `${d.policyName} on ${d.urn ?? "the stack"}: ${d.detail}`),
    ).to.deep.equal([]);
  });

  it("every rule applies to at least one program resource (none is vacuous here)", () => {
    const result = afterUpdate;
    // Rules for resource types a user of these components would plausibly add, that the program
    // does not register (their bad fixtures add them); asserted absent, so this list cannot rot.
    const forAbsentTypes: Record<string, string> = {
      "lambda-function-url-iam-auth": "aws:lambda/functionUrl:FunctionUrl",
      "apigateway-domain-tls-1-2": "aws:apigateway/domainName:DomainName",
    };
    const types = new Set(resources.map((r) => r.type));
    for (const type of Object.values(forAbsentTypes)) expect(types, type).not.to.include(type);
    const everywhereNotApplicable = allPolicies
      .map((p) => p.name)
      .filter((name) => !(name in forAbsentTypes))
      .filter((name) => {
        const na = result.notApplicable.filter((n) => n.policyName === name).length;
        const resourcePolicy = !("validateStack" in (allPolicies.find((p) => p.name === name) as object));
        return resourcePolicy ? na === resources.length : na > 0;
      });
    expect(everywhereNotApplicable).to.deep.equal([]);
  });

  it("a first preview (outputs unknown) blocks nothing and never crashes; undecidable rules are advisories", async () => {
    const preview = asPreview(resources, COMPUTED_KEYS);
    const result = await runPack(allPolicies, preview);
    expect(
      blocking(result).map((d) => `${d.policyName} on ${d.urn ?? "the stack"}: ${d.detail}`),
    ).to.deep.equal([]);
    const advisories = result.diagnostics.filter((d) => d.unknown);
    expect(advisories, "the preview had no unknown values: the simulation is vacuous").to.not.be.empty;
    for (const d of advisories) expect(d.enforcementLevel).to.equal("advisory");
  });
});
