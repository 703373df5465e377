import { expect } from "chai";
import * as sinon from "sinon";
import { SQSClient } from "@aws-sdk/client-sqs";
import { redriveDlq, resolveMode, targetFromStackOutputs } from "../../scripts/redrive-dlq";

const target = {
  queueUrl: "https://sqs.us-east-1.amazonaws.com/123456789012/orders-payments",
  deadLetterQueueUrl: "https://sqs.us-east-1.amazonaws.com/123456789012/orders-payments-dlq",
};
const arn = (url: string) => `arn:aws:sqs:us-east-1:123456789012:${url.split("/").pop()}`;

/** `started`: the task as ListMessageMoveTasks shows it right after the start; `later`: each poll after. */
function fakeSqs(
  onMove: (input: Record<string, unknown>) => unknown,
  started: Record<string, unknown> = {},
  later: Record<string, unknown>[] = [],
) {
  const listed = [started, ...later];
  const client = new SQSClient({ region: "us-east-1" });
  const calls: { name: string; input: Record<string, unknown> }[] = [];
  sinon.stub(client, "send").callsFake((async (command: {
    constructor: { name: string };
    input: Record<string, unknown>;
  }) => {
    const name = command.constructor.name.replace(/Command$/, "");
    calls.push({ name, input: command.input });
    switch (name) {
      case "GetQueueAttributes":
        return { Attributes: { QueueArn: arn(String(command.input.QueueUrl)) } };
      case "StartMessageMoveTask":
        return onMove(command.input);
      case "ListMessageMoveTasks":
        return { Results: [listed.length > 1 ? listed.shift() : listed[0]] };
      case "ReceiveMessage":
        return { Messages: [] };
      default:
        throw new Error(`unexpected ${name}`);
    }
  }) as never);
  return { client, calls };
}

describe("redrive-dlq", () => {
  it("reads the queue URLs from `pulumi stack output --json`", () => {
    expect(targetFromStackOutputs({ ...target, apiUrl: "x" })).to.deep.equal(target);
    expect(() => targetFromStackOutputs({ queueUrl: "x" })).to.throw(/deadLetterQueueUrl/);
  });

  it("against AWS: one StartMessageMoveTask from the DLQ's ARN to the queue's ARN, reporting what it will move", async () => {
    const sqs = fakeSqs(() => ({ TaskHandle: "h-1" }), {
      Status: "RUNNING",
      ApproximateNumberOfMessagesToMove: 3,
    });
    const result = await redriveDlq(sqs.client, target, { mode: "move", log: () => undefined });
    // Not waited for: nothing measured as moved, so no `moved`.
    expect(result).to.deep.equal({ mode: "move", taskHandle: "h-1", toMove: 3 });
    const move = sqs.calls.find((c) => c.name === "StartMessageMoveTask")!;
    expect(move.input).to.deep.equal({
      SourceArn: arn(target.deadLetterQueueUrl),
      DestinationArn: arn(target.queueUrl),
    });
  });

  it("with wait, reports what the finished task moved", async () => {
    const sqs = fakeSqs(
      () => ({ TaskHandle: "h-2" }),
      { Status: "RUNNING", ApproximateNumberOfMessagesToMove: 3 },
      [
        { Status: "RUNNING", ApproximateNumberOfMessagesToMove: 3, ApproximateNumberOfMessagesMoved: 1 },
        { Status: "COMPLETED", ApproximateNumberOfMessagesToMove: 3, ApproximateNumberOfMessagesMoved: 3 },
      ],
    );
    const result = await redriveDlq(sqs.client, target, {
      mode: "move",
      wait: true,
      pollMs: 1,
      log: () => undefined,
    });
    expect(result).to.deep.equal({ mode: "move", taskHandle: "h-2", toMove: 3, moved: 3 });
  });

  it("auto: copies against an endpoint (offline), moves against AWS", () => {
    expect(resolveMode("auto", "http://127.0.0.1:9324")).to.equal("copy");
    expect(resolveMode("auto", undefined)).to.equal("move");
    expect(resolveMode("move", "http://127.0.0.1:9324")).to.equal("move");
    expect(resolveMode("copy", undefined)).to.equal("copy");
  });

  it("copy mode receives from the DLQ and never starts a move task", async () => {
    const sqs = fakeSqs(() => ({ TaskHandle: "never" }));
    expect(await redriveDlq(sqs.client, target, { mode: "copy", log: () => undefined })).to.deep.equal({
      mode: "copy",
      moved: 0,
    });
    expect(sqs.calls.map((c) => c.name)).to.deep.equal(["ReceiveMessage"]);
    expect(sqs.calls[0].input.QueueUrl).to.equal(target.deadLetterQueueUrl);
  });

  it("move mode surfaces its errors (permissions) and never falls back to copying", async () => {
    const denied = fakeSqs(() => {
      throw Object.assign(new Error("denied"), { name: "AccessDenied" });
    });
    let error: Error | undefined;
    await redriveDlq(denied.client, target, { mode: "move", log: () => undefined }).catch(
      (e: Error) => (error = e),
    );
    expect(error?.name).to.equal("AccessDenied");
    expect(denied.calls.map((c) => c.name)).not.to.include("ReceiveMessage");
  });
});
