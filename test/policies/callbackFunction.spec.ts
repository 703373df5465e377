/**
 * The trap from design.md §2: `aws.lambda.CallbackFunction` without `role` creates a role with
 * nine AWS-managed policies. A real one is built under the process's Pulumi mocks and the pack
 * must block it. captureProgram() returns a snapshot taken before the probe registers, so specs
 * reading the program's resources never see it.
 */
import * as aws from "@pulumi/aws";
import { expect } from "chai";
import { captureProgram, settled } from "../../program/capture";
import { registered, RegisteredResource } from "../../program/mocks";
import { allPolicies } from "../../policies/rules";
import { blocking, fromRegistered, runPack } from "../support/policyHarness";
import { T } from "../support/policyFixtures";

const PROBE = "policy-probe-default-role";

describe("CallbackFunction's default role", function () {
  this.timeout(60_000);
  let probe: RegisteredResource[];
  let program: RegisteredResource[];

  before(async () => {
    // The program's snapshot is taken first, so the probe below is never part of it.
    program = await captureProgram();
    const fn = new aws.lambda.CallbackFunction(PROBE, {
      callback: async () => ({ statusCode: 200 }),
      runtime: "nodejs22.x",
      tracingConfig: { mode: "Active" },
      codePathOptions: {
        extraExcludePackages: Object.keys(require("../../package.json").dependencies as object),
      },
    });
    await new Promise<void>((resolve) => fn.arn.apply(() => resolve()));
    await settled();
    probe = registered.filter((r) => r.name.startsWith(PROBE));
  });

  it("registers a role with the nine managed policies", () => {
    const attachments = probe.filter((r) => r.type === T.attachment);
    expect(attachments).to.have.length(9);
    expect(attachments.map((a) => String(a.inputs.policyArn).split("/").pop())).to.include.members([
      "AWSLambda_FullAccess",
      "AmazonS3FullAccess",
      "AmazonDynamoDBFullAccess",
      "AmazonSQSFullAccess",
    ]);
  });

  it("is blocked by the pack: every broad policy, and the function for not having its own role", async () => {
    const result = await runPack(
      allPolicies,
      probe.map((r) => fromRegistered(r)),
    );
    const found = blocking(result);
    const broad = found.filter((d) => d.policyName === "iam-no-broad-managed-policies").map((d) => d.detail);
    // All but AWSXrayWriteOnlyAccess are *FullAccess or PowerUser.
    expect(broad).to.have.length(8);
    expect(broad.join("\n"))
      .to.match(/AWSLambda_FullAccess/)
      .and.to.match(/AmazonCognitoPowerUser/);
    const explicit = found.filter((d) => d.policyName === "lambda-explicit-role");
    expect(explicit).to.have.length(1);
    expect(explicit[0].detail).to.match(/AWSLambda_FullAccess/);
    expect(explicit[0].urn).to.match(new RegExp(`aws:lambda/function:Function::${PROBE}$`));
  });

  it("is not part of the program's resources that other specs read", async () => {
    expect(program.filter((r) => r.name.startsWith(PROBE))).to.deep.equal([]);
    expect(await captureProgram()).to.equal(program);
  });
});
