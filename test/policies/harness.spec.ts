/** The harness behaves like the engine (so rule tests mean what they say). */
import * as aws from "@pulumi/aws";
import {
  ResourceValidationPolicy,
  StackValidationPolicy,
  validateResourceOfType,
  validateStackResourcesOfType,
} from "../../policies/rules/sdk";
import { expect } from "chai";
import {
  asPreview,
  policyResources,
  resolvedConfig,
  runPack,
  runResourcePolicy,
  runStackPolicy,
  TestResource,
  UNKNOWN,
  urnOf,
} from "../support/policyHarness";

const QUEUE = "aws:sqs/queue:Queue";
const queue = (props: Record<string, unknown> = {}): TestResource => ({
  type: QUEUE,
  name: "q",
  props: { kmsMasterKeyId: "k", ...props },
});

const needsKey: ResourceValidationPolicy = {
  name: "needs-key",
  description: "Set kmsMasterKeyId.",
  enforcementLevel: "mandatory",
  configSchema: {
    properties: {
      minDelay: { type: "integer", minimum: 0, default: 5 },
      tags: { type: "array", items: { type: "string" } },
    },
  },
  validateResource: validateResourceOfType(aws.sqs.Queue, (q, args, report) => {
    const { minDelay } = args.getConfig<{ minDelay: number }>();
    if (!q.kmsMasterKeyId) report("no key");
    if ((q.delaySeconds ?? 0) < minDelay) report(`delay below ${minDelay}`);
  }),
};

describe("policy harness", () => {
  it("reports violations with the engine's message shape and the resource's URN", async () => {
    const result = await runResourcePolicy(needsKey, queue({ kmsMasterKeyId: undefined, delaySeconds: 9 }));
    expect(result.diagnostics).to.deep.equal([
      {
        policyName: "needs-key",
        message: "Set kmsMasterKeyId.\nno key",
        detail: "no key",
        enforcementLevel: "mandatory",
        urn: urnOf(QUEUE, "q"),
        unknown: false,
      },
    ]);
  });

  it("filters by type like the engine (notApplicable, no call) and supports isType / asType", async () => {
    let calls = 0;
    const spy: ResourceValidationPolicy = {
      name: "spy",
      description: "d",
      validateResource: (args) => {
        calls++;
        expect(args.isType(aws.sqs.Queue)).to.equal(true);
        expect(args.isType(aws.sns.Topic)).to.equal(false);
        expect(args.asType(aws.sqs.Queue)?.kmsMasterKeyId).to.equal("k");
        expect(args.asType(aws.sns.Topic)).to.equal(undefined);
      },
    };
    await runResourcePolicy(spy, queue());
    expect(calls).to.equal(1);
    const other = await runResourcePolicy(needsKey, { type: "aws:sns/topic:Topic", name: "t", props: {} });
    expect(other.notApplicable).to.deep.equal([
      {
        policyName: "needs-key",
        reason: "Policy only applies to resources of type 'aws:sqs/queue:Queue'",
        urn: urnOf("aws:sns/topic:Topic", "t"),
      },
    ]);
    expect(other.diagnostics).to.deep.equal([]);
  });

  it("records notApplicable(reason) thrown by a rule", async () => {
    const na: ResourceValidationPolicy = {
      name: "na",
      description: "d",
      validateResource: (args) => args.notApplicable("not today"),
    };
    const result = await runResourcePolicy(na, queue());
    expect(result.notApplicable.map((n) => n.reason)).to.deep.equal(["not today"]);
  });

  it("gives rules the schema's defaults, overlaid by the stack's config, and rejects invalid config", async () => {
    expect(resolvedConfig(needsKey)).to.deep.equal({ minDelay: 5 });
    expect(
      resolvedConfig(needsKey, { "needs-key": { enforcementLevel: "advisory", minDelay: 0 } }),
    ).to.deep.equal({ minDelay: 0 });
    expect(
      (await runResourcePolicy(needsKey, queue({ delaySeconds: 1 }))).diagnostics.map((d) => d.detail),
    ).to.deep.equal(["delay below 5"]);
    expect(
      (
        await runResourcePolicy(needsKey, queue({ delaySeconds: 1 }), {
          config: { "needs-key": { minDelay: 1 } },
        })
      ).diagnostics,
    ).to.deep.equal([]);
    expect(() => resolvedConfig(needsKey, { "needs-key": { minDelay: -1 } })).to.throw(
      /minDelay must be >= 0/,
    );
    expect(() => resolvedConfig(needsKey, { "needs-key": { minDelay: "5" } })).to.throw(
      /minDelay must be of type integer/,
    );
    expect(() => resolvedConfig(needsKey, { "needs-key": { tags: [1] } })).to.throw(
      /tags item must be of type string/,
    );
  });

  it("resolves enforcement levels like the engine: stack config, then rule, then pack", async () => {
    const bad = queue({ kmsMasterKeyId: undefined, delaySeconds: 9 });
    const level = async (
      options: Parameters<typeof runResourcePolicy>[2],
      p: ResourceValidationPolicy = needsKey,
    ) => (await runResourcePolicy(p, bad, options)).diagnostics.map((d) => d.enforcementLevel);
    expect(await level({})).to.deep.equal(["mandatory"]);
    expect(await level({ config: { "needs-key": "advisory" } })).to.deep.equal(["advisory"]);
    expect(await level({ config: { "needs-key": { enforcementLevel: "disabled" } } })).to.deep.equal([]);
    expect(await level({ config: { "needs-key": "remediate" } })).to.deep.equal(["mandatory"]);
    const unset = { ...needsKey, enforcementLevel: undefined };
    expect(await level({}, unset)).to.deep.equal(["advisory"]);
    expect(await level({ packEnforcementLevel: "mandatory" }, unset)).to.deep.equal(["mandatory"]);
  });

  it("turns a read of an unknown value into the engine's advisory, not a pass and not a crash", async () => {
    const result = await runResourcePolicy(needsKey, queue({ kmsMasterKeyId: UNKNOWN.string }));
    expect(result.diagnostics).to.have.length(1);
    expect(result.diagnostics[0]).to.include({
      policyName: "needs-key",
      enforcementLevel: "advisory",
      unknown: true,
    });
    expect(result.diagnostics[0].message).to.equal(
      "can't run policy 'needs-key' during preview: string value at .kmsMasterKeyId can't be known during preview",
    );
  });

  it("does not flag unknown values the rule never reads", async () => {
    const result = await runResourcePolicy(needsKey, queue({ policy: UNKNOWN.string, delaySeconds: 9 }));
    expect(result.diagnostics).to.deep.equal([]);
  });

  it("rethrows any other error, as the engine fails the analysis", async () => {
    const broken: ResourceValidationPolicy = {
      name: "broken",
      description: "d",
      validateResource: () => {
        throw new TypeError("boom");
      },
    };
    let caught: unknown;
    await runResourcePolicy(broken, queue()).catch((e) => (caught = e));
    expect(String(caught)).to.match(/Error validating resource with policy 'broken': boom/);
  });

  it("gives each validation its own copy of the props", async () => {
    const mutator: ResourceValidationPolicy = {
      name: "mutator",
      description: "d",
      validateResource: [
        (args) => {
          (args.props as Record<string, unknown>).kmsMasterKeyId = undefined;
        },
        (args, report) => {
          if (!args.props.kmsMasterKeyId) report("lost");
        },
      ],
    };
    const r = queue();
    expect((await runResourcePolicy(mutator, r)).diagnostics).to.deep.equal([]);
    expect(r.props.kmsMasterKeyId).to.equal("k");
  });

  it("builds stack resources with parents, dependencies and property dependencies as objects", () => {
    const key: TestResource = { type: "aws:kms/key:Key", name: "k", props: {} };
    const q: TestResource = {
      ...queue(),
      parent: urnOf("aws:kms/key:Key", "k"),
      dependencies: [urnOf("aws:kms/key:Key", "k")],
      propertyDependencies: { kmsMasterKeyId: [urnOf("aws:kms/key:Key", "k")] },
    };
    const [k, built] = policyResources([key, q]);
    expect(built.parent).to.equal(k);
    expect(built.dependencies).to.deep.equal([k]);
    expect(built.propertyDependencies.kmsMasterKeyId).to.deep.equal([k]);
    expect(built.isType(aws.sqs.Queue)).to.equal(true);
    expect(built.asType(aws.kms.Key)).to.equal(undefined);
  });

  it("runs stack policies with the type filter, violations at a URN, and unknowns as advisories", async () => {
    const stackRule: StackValidationPolicy = {
      name: "stack-rule",
      description: "d",
      enforcementLevel: "mandatory",
      validateStack: validateStackResourcesOfType(aws.sqs.Queue, (queues, args, report) => {
        for (const [i, q] of queues.entries()) if (!q.kmsMasterKeyId) report("no key", args.resources[i].urn);
      }),
    };
    expect(
      (await runStackPolicy(stackRule, [{ type: "aws:sns/topic:Topic", name: "t", props: {} }]))
        .notApplicable,
    ).to.have.length(1);
    const violations = await runStackPolicy(stackRule, [
      queue(),
      { ...queue({ kmsMasterKeyId: "" }), name: "q2" },
    ]);
    expect(violations.diagnostics.map((d) => d.urn)).to.deep.equal([urnOf(QUEUE, "q2")]);
    const unknown = await runStackPolicy(stackRule, [queue({ kmsMasterKeyId: UNKNOWN.string })]);
    expect(unknown.diagnostics.map((d) => [d.unknown, d.enforcementLevel])).to.deep.equal([
      [true, "advisory"],
    ]);
  });

  it("simulates a preview: outputs and inputs built from them become unknown, with property dependencies", () => {
    const key: TestResource = {
      type: "aws:kms/key:Key",
      name: "k",
      props: { arn: "arn:aws:kms:us-east-1:1:key/abc", enableKeyRotation: true },
    };
    const q = queue({ kmsMasterKeyId: "arn:aws:kms:us-east-1:1:key/abc", delaySeconds: 3 });
    const [pk, pq] = asPreview([key, q], ["arn"]);
    expect(pk.props).to.deep.equal({ arn: UNKNOWN.string, enableKeyRotation: true });
    expect(pq.props).to.deep.equal({ kmsMasterKeyId: UNKNOWN.string, delaySeconds: 3 });
    expect(pq.propertyDependencies).to.deep.equal({ kmsMasterKeyId: [urnOf("aws:kms/key:Key", "k")] });
  });

  it("a preview depends on an output used whole or extended (<arn>:*), never on a longer name that starts with it", () => {
    const arn = "arn:aws:sqs:us-east-1:123456789012:payments";
    const main: TestResource = { type: QUEUE, name: "payments", props: { arn } };
    const dlq: TestResource = { type: QUEUE, name: "payments-dlq", props: { arn: `${arn}-dlq` } };
    const reader: TestResource = {
      type: "aws:iam/rolePolicy:RolePolicy",
      name: "reader",
      props: { policy: JSON.stringify({ Resource: [`${arn}-dlq`] }), other: `${arn}:*` },
    };
    const [, , preview] = asPreview([main, dlq, reader], ["arn"]);
    expect(preview.propertyDependencies).to.deep.equal({
      policy: [urnOf(QUEUE, "payments-dlq")],
      other: [urnOf(QUEUE, "payments")],
    });
  });

  it("runs a whole pack: resource rules per resource, then stack rules", async () => {
    const result = await runPack(
      [needsKey],
      [
        queue({ kmsMasterKeyId: undefined, delaySeconds: 9 }),
        { type: "aws:sns/topic:Topic", name: "t", props: {} },
      ],
    );
    expect(result.diagnostics.map((d) => d.detail)).to.deep.equal(["no key"]);
    expect(result.notApplicable.map((n) => n.urn)).to.deep.equal([urnOf("aws:sns/topic:Topic", "t")]);
  });
});
