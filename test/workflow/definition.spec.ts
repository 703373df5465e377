import { expect } from "chai";
import validateAsl = require("asl-validator");
import { callbackStates, checkWorkflow } from "../../workflow/checks";
import {
  buildOrderWorkflowDefinition,
  CALLBACK_RESOURCE,
  STATE,
  StateMachineDefinition,
  WorkflowDefinitionArgs,
} from "../../workflow/definition";

const args: WorkflowDefinitionArgs = {
  queueUrl: "https://sqs.us-east-1.amazonaws.com/123456789012/payments",
  notifyFunctionArn: "arn:aws:lambda:us-east-1:123456789012:function:notify",
  compensateFunctionArn: "arn:aws:lambda:us-east-1:123456789012:function:compensate",
  callbackTimeoutSeconds: 1200,
  heartbeatSeconds: 300,
};

const clone = (d: StateMachineDefinition): StateMachineDefinition => JSON.parse(JSON.stringify(d));

describe("workflow definition", () => {
  const definition = buildOrderWorkflowDefinition(args);

  it("passes asl-validator, with ARN and path checks", () => {
    const result = validateAsl(clone(definition), { checkArn: true, checkPaths: true });
    expect(result.errors, result.errorsText("\n")).to.deep.equal([]);
    expect(result.isValid).to.equal(true);
  });

  it("passes our own checks", () => {
    expect(checkWorkflow(definition, STATE.compensate)).to.deep.equal([]);
  });

  it("starts with the SQS callback task carrying the order and the task token", () => {
    expect(definition.StartAt).to.equal(STATE.processPayment);
    expect(callbackStates(definition)).to.deep.equal([STATE.processPayment]);
    const task = definition.States[STATE.processPayment];
    expect(task.Resource).to.equal(CALLBACK_RESOURCE);
    expect(task.Parameters).to.deep.equal({
      QueueUrl: args.queueUrl,
      MessageBody: { "order.$": "$.order", "taskToken.$": "$$.Task.Token" },
    });
    expect(task.TimeoutSeconds).to.equal(1200);
    expect(task.HeartbeatSeconds).to.equal(300);
  });

  it("sends every payment failure, decline and timeout to compensation", () => {
    const task = definition.States[STATE.processPayment];
    expect(task.Catch).to.deep.equal([
      { ErrorEquals: ["States.ALL"], ResultPath: "$.error", Next: STATE.compensate },
    ]);
    const retried = (task.Retry as { ErrorEquals: string[] }[]).flatMap((r) => r.ErrorEquals);
    for (const businessError of [
      "PaymentDeclined",
      "OutOfStock",
      "States.Timeout",
      "States.ALL",
      "States.TaskFailed",
    ]) {
      expect(retried, `${businessError} must not be retried`).not.to.include(businessError);
    }
  });

  it("notifies with send_notification and compensates with compensate_order, by ARN", () => {
    const notify = definition.States[STATE.notifyCustomer];
    const compensate = definition.States[STATE.compensate];
    expect((notify.Parameters as Record<string, unknown>).FunctionName).to.equal(args.notifyFunctionArn);
    expect((compensate.Parameters as Record<string, unknown>).FunctionName).to.equal(
      args.compensateFunctionArn,
    );
    expect(compensate.Parameters).to.deep.include({
      Payload: { "order.$": "$.order", "error.$": "$.error" },
    });
    expect(notify.End).to.equal(true);
    expect(compensate.End).to.equal(true);
  });

  it("ends FAILED only for operational faults, each a named Fail state", () => {
    const fails = Object.entries(definition.States).filter(([, s]) => s.Type === "Fail");
    expect(fails.map(([, s]) => s.Error).sort()).to.deep.equal(["CompensationFailed", "NotificationFailed"]);
  });

  it("bounds the whole execution beyond the callback timeout", () => {
    expect(definition.TimeoutSeconds).to.be.greaterThan(args.callbackTimeoutSeconds);
  });

  it("refuses timings that could never work", () => {
    expect(() => buildOrderWorkflowDefinition({ ...args, heartbeatSeconds: 0 })).to.throw(/heartbeatSeconds/);
    expect(() => buildOrderWorkflowDefinition({ ...args, callbackTimeoutSeconds: 300 })).to.throw(
      /callbackTimeoutSeconds \(300\) must be an integer greater than heartbeatSeconds \(300\)/,
    );
  });

  describe("the checks catch a broken definition", () => {
    const broken: [string, (d: StateMachineDefinition) => void, RegExp][] = [
      ["no timeout", (d) => delete d.States[STATE.processPayment].TimeoutSeconds, /without TimeoutSeconds/],
      [
        "no heartbeat",
        (d) => delete d.States[STATE.processPayment].HeartbeatSeconds,
        /without HeartbeatSeconds/,
      ],
      [
        "heartbeat above timeout",
        (d) => (d.States[STATE.processPayment].HeartbeatSeconds = 5000),
        /HeartbeatSeconds must be below/,
      ],
      [
        "no token",
        (d) =>
          (d.States[STATE.processPayment].Parameters = {
            QueueUrl: "q",
            MessageBody: { "order.$": "$.order" },
          }),
        /does not pass \$\$\.Task\.Token/,
      ],
      [
        "uncaught task",
        (d) => delete d.States[STATE.notifyCustomer].Catch,
        /NotifyCustomer: a Task without a Catch/,
      ],
      [
        "failure skips compensation",
        (d) =>
          ((d.States[STATE.processPayment].Catch as { Next: string }[])[0].Next = STATE.compensationFailed),
        /never reaches Compensate/,
      ],
      ["orphan state", (d) => (d.States.Orphan = { Type: "Succeed" }), /Orphan: unreachable/],
    ];
    for (const [label, breakIt, expected] of broken) {
      it(label, () => {
        const d = clone(definition);
        breakIt(d);
        expect(checkWorkflow(d, STATE.compensate).join("\n")).to.match(expected);
      });
    }
  });
});
