/**
 * The trap from design.md §2: `aws.lambda.CallbackFunction` without `role` creates a role with
 * nine AWS-managed policies. A real one is built under the process's Pulumi mocks and the pack
 * must block it. Its resources are removed from the shared registry afterwards so that specs
 * reading the program's resources never see them.
 */
import * as aws from "@pulumi/aws";
import { expect } from "chai";
import { registered, RegisteredResource } from "../../program/mocks";
import { allPolicies } from "../../policies/rules";
import { blocking, fromRegistered, runPack } from "../support/policyHarness";

const PROBE = "policy-probe-default-role";

async function settle(): Promise<void> {
  let last = -1;
  for (let stable = 0; stable < 3;) {
    await new Promise((resolve) => setTimeout(resolve, 25));
    if (registered.length === last) stable++;
    else {
      stable = 0;
      last = registered.length;
    }
  }
}

describe("CallbackFunction's default role", function () {
  this.timeout(60_000);
  let probe: RegisteredResource[];

  before(async () => {
    const fn = new aws.lambda.CallbackFunction(PROBE, {
      callback: async () => ({ statusCode: 200 }),
      runtime: "nodejs22.x",
      tracingConfig: { mode: "Active" },
      codePathOptions: {
        extraExcludePackages: Object.keys(require("../../package.json").dependencies as object),
      },
    });
    await new Promise<void>((resolve) => fn.arn.apply(() => resolve()));
    await settle();
    probe = registered.filter((r) => r.name.startsWith(PROBE));
    // Leave the shared registry as the program left it.
    for (const r of probe) registered.splice(registered.indexOf(r), 1);
  });

  it("registers a role with the nine managed policies", () => {
    const attachments = probe.filter((r) => r.type === "aws:iam/rolePolicyAttachment:RolePolicyAttachment");
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

  it("leaves nothing behind in the shared registry", () => {
    expect(registered.filter((r) => r.name.startsWith(PROBE))).to.deep.equal([]);
  });
});
