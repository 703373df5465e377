/**
 * The definition the program builds in each partition (aws, GovCloud, China) passes asl-validator
 * and our checks, and the offline runtime serves every Task of it exactly as it serves the `aws`
 * one; a Task in an unknown partition, of another service or action, or a definition that mixes
 * partitions, is refused by both.
 */
import { expect } from "chai";
import { readFileSync } from "node:fs";
import * as path from "node:path";
import validateAsl = require("asl-validator");
import { buildTopology, functionNameOf, taskKind, TopologyError, withTimings } from "../../local/topology";
import type { RegisteredResource } from "../../program/mocks";
import { callbackStates, checkWorkflow } from "../../workflow/checks";
import {
  buildOrderWorkflowDefinition,
  STATE,
  type StateMachineDefinition,
  type WorkflowDefinitionArgs,
} from "../../workflow/definition";
import { parseTaskResource, PARTITIONS } from "../../workflow/resources";
import { FIXTURE, fixtureResources } from "../e2e/support/fixture";

/** The partitions the program is captured for (test/support/scenarios.ts) and their regions. */
const REGIONS = { aws: "us-east-1", "aws-us-gov": "us-gov-west-1", "aws-cn": "cn-north-1" } as const;
type Tested = keyof typeof REGIONS;

/**
 * The partition ids of the endpoint table @aws-sdk/core ships. Its package exports no path to the
 * table, so the file is read from the package: `export const partitionsInfo = <JSON>;`.
 */
function sdkPartitionIds(): string[] {
  const client = require.resolve("@aws-sdk/core/client"); // <root>/dist-cjs/submodules/client/index.js
  const file = path.join(
    client,
    "../../../../dist-es/submodules/client/util-endpoints/lib/aws/partitions.js",
  );
  const json = readFileSync(file, "utf8")
    .replace(/^export const partitionsInfo = /, "")
    .replace(/;\s*$/, "");
  return (JSON.parse(json) as { partitions: { id: string }[] }).partitions.map((p) => p.id);
}

function argsIn(partition: Tested): WorkflowDefinitionArgs {
  const region = REGIONS[partition];
  const fnArn = (name: string) => `arn:${partition}:lambda:${region}:123456789012:function:${name}`;
  return {
    queueUrl: `https://sqs.${region}.amazonaws.com/123456789012/payments`,
    notifyFunctionArn: fnArn("notify"),
    compensateFunctionArn: fnArn("compensate"),
    callbackTimeoutSeconds: 1200,
    heartbeatSeconds: 300,
    partition,
  };
}

const clone = (d: StateMachineDefinition): StateMachineDefinition => JSON.parse(JSON.stringify(d));

/** What the offline runtime does with each Task, with function ARNs reduced to names. */
function offlineKinds(definition: StateMachineDefinition): Record<string, string> {
  const kinds: Record<string, string> = {};
  for (const [name, state] of Object.entries(definition.States)) {
    if (state.Type !== "Task") continue;
    const kind = taskKind(name, state);
    kinds[name] =
      kind.kind === "callback" ? `callback ${kind.queueUrl}` : `lambda ${functionNameOf(kind.functionName)}`;
  }
  return kinds;
}

describe("workflow definition in every partition", () => {
  const reference = offlineKinds(buildOrderWorkflowDefinition(argsIn("aws")));

  it("the aws definition has the callback and both invokes, as the others must", () => {
    expect(reference).to.deep.equal({
      [STATE.processPayment]: "callback https://sqs.us-east-1.amazonaws.com/123456789012/payments",
      [STATE.notifyCustomer]: "lambda notify",
      [STATE.compensate]: "lambda compensate",
    });
  });

  for (const partition of Object.keys(REGIONS) as Tested[]) {
    describe(partition, () => {
      const definition = buildOrderWorkflowDefinition(argsIn(partition));

      it("names its own partition in every Task Resource", () => {
        const tasks = Object.values(definition.States).filter((s) => s.Type === "Task");
        expect(tasks).to.have.length(3);
        for (const task of tasks)
          expect(String(task.Resource)).to.match(new RegExp(`^arn:${partition}:states:::`));
      });

      it("passes asl-validator with ARN checks, and our own checks", () => {
        const result = validateAsl(clone(definition), { checkArn: true, checkPaths: true });
        expect(result.errors, result.errorsText("\n")).to.deep.equal([]);
        expect(checkWorkflow(definition, STATE.compensate)).to.deep.equal([]);
        expect(callbackStates(definition)).to.deep.equal([STATE.processPayment]);
      });

      it("is served offline Task for Task as the aws definition is", () => {
        const queueUrl = argsIn(partition).queueUrl;
        const expected = { ...reference, [STATE.processPayment]: `callback ${queueUrl}` };
        expect(offlineKinds(definition)).to.deep.equal(expected);
      });

      it("becomes a local topology, and --fast shortens its callback", () => {
        const resources = fixtureResources().map((r): RegisteredResource => {
          if (r.type !== "aws:sfn/stateMachine:StateMachine") return r;
          const fixture = JSON.parse(String(r.inputs.definition)) as StateMachineDefinition;
          const payment = fixture.States[STATE.processPayment].Parameters as { QueueUrl: string };
          const fnArn = (name: string) =>
            `arn:${partition}:lambda:${REGIONS[partition]}:123456789012:function:${name}`;
          const inPartition = buildOrderWorkflowDefinition({
            ...argsIn(partition),
            queueUrl: payment.QueueUrl,
            notifyFunctionArn: fnArn(FIXTURE.fn.sendNotification),
            compensateFunctionArn: fnArn(FIXTURE.fn.compensateOrder),
          });
          return { ...r, inputs: { ...r.inputs, definition: JSON.stringify(inPartition) } };
        });
        const fast = withTimings(buildTopology(resources), {
          callbackTimeoutSeconds: 6,
          heartbeatSeconds: 3,
        });
        const callback = fast.stateMachines[0].definition.States[STATE.processPayment];
        expect(callback.Resource).to.equal(`arn:${partition}:states:::sqs:sendMessage.waitForTaskToken`);
        expect(callback).to.include({ TimeoutSeconds: 6, HeartbeatSeconds: 3 });
      });
    });
  }

  describe("refuses what no partition serves", () => {
    const definition = buildOrderWorkflowDefinition(argsIn("aws-us-gov"));
    const bad: [string, string, RegExp][] = [
      [
        "an unknown partition",
        "arn:aws-bogus:states:::sqs:sendMessage.waitForTaskToken",
        /partition "aws-bogus"/,
      ],
      ["an empty partition", "arn::states:::lambda:invoke", /partition ""/],
      ["a partition in another case", "arn:AWS-US-GOV:states:::lambda:invoke", /partition "AWS-US-GOV"/],
      [
        "another service",
        "arn:aws-us-gov:states:::dynamodb:putItem",
        /not an integration this workflow uses/,
      ],
      ["a misspelt action", "arn:aws-us-gov:states:::lambda:invoke.waitForTaskTokn", /not an integration/],
      ["a service other than states", "arn:aws-us-gov:stats:::lambda:invoke", /not a service integration/],
      [
        "a direct function ARN",
        "arn:aws-us-gov:lambda:us-gov-west-1:123456789012:function:notify",
        /not a service integration/,
      ],
    ];
    for (const [label, resource, reason] of bad) {
      it(label, () => {
        expect(parseTaskResource(resource)).to.deep.include({ ok: false });
        const d = clone(definition);
        d.States[STATE.notifyCustomer].Resource = resource;
        expect(checkWorkflow(d, STATE.compensate).join("\n")).to.match(
          new RegExp(`^NotifyCustomer: .*${reason.source}`, "m"),
        );
        const serve = () => taskKind(STATE.notifyCustomer, d.States[STATE.notifyCustomer]);
        expect(serve).to.throw(TopologyError, /which the offline runtime does not serve/);
        expect(serve).to.throw(TopologyError, reason);
      });
    }

    it("a definition whose Tasks or functions sit in two partitions", () => {
      const mixedTask = clone(definition);
      mixedTask.States[STATE.compensate].Resource = "arn:aws:states:::lambda:invoke";
      expect(checkWorkflow(mixedTask, STATE.compensate).join("\n")).to.match(
        /more than one partition: aws-us-gov \(ProcessPayment, NotifyCustomer, Compensate\); aws \(Compensate\)$/m,
      );
      const mixedFunction = clone(definition);
      (mixedFunction.States[STATE.notifyCustomer].Parameters as Record<string, unknown>).FunctionName =
        "arn:aws-cn:lambda:cn-north-1:123456789012:function:notify";
      expect(checkWorkflow(mixedFunction, STATE.compensate).join("\n")).to.match(
        /more than one partition: .*aws-cn \(NotifyCustomer\)/,
      );
    });
  });

  it("knows every partition the AWS SDK does, each parsed back as itself", () => {
    expect(PARTITIONS).to.include.members(Object.keys(REGIONS));
    const sdk = sdkPartitionIds();
    expect(sdk, "the SDK's table read").to.include("aws");
    expect([...PARTITIONS].sort()).to.deep.equal([...sdk].sort());
    for (const partition of PARTITIONS) {
      expect(parseTaskResource(`arn:${partition}:states:::lambda:invoke`)).to.deep.equal({
        ok: true,
        partition,
        integration: "lambdaInvoke",
      });
    }
  });
});
