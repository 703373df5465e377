import { expect } from "chai";
import * as sinon from "sinon";
import { SQSClient } from "@aws-sdk/client-sqs";
import { redriveDlq, targetFromStackOutputs } from "../../scripts/redrive-dlq";

const target = {
  queueUrl: "https://sqs.us-east-1.amazonaws.com/123456789012/orders-payments",
  deadLetterQueueUrl: "https://sqs.us-east-1.amazonaws.com/123456789012/orders-payments-dlq",
};
const arn = (url: string) => `arn:aws:sqs:us-east-1:123456789012:${url.split("/").pop()}`;

function fakeSqs(onMove: (input: Record<string, unknown>) => unknown) {
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

  it("against AWS: one StartMessageMoveTask from the DLQ's ARN to the queue's ARN", async () => {
    const sqs = fakeSqs(() => ({ TaskHandle: "h-1" }));
    const result = await redriveDlq(sqs.client, target, { log: () => undefined });
    expect(result).to.deep.equal({ mode: "move", moved: 0, taskHandle: "h-1" });
    const move = sqs.calls.find((c) => c.name === "StartMessageMoveTask")!;
    expect(move.input).to.deep.equal({
      SourceArn: arn(target.deadLetterQueueUrl),
      DestinationArn: arn(target.queueUrl),
    });
  });

  it("falls back to copying where the move task is unsupported, but not in --mode move", async () => {
    const unsupported = () => {
      throw Object.assign(new Error("not supported"), { name: "UnsupportedOperation" });
    };
    const auto = fakeSqs(unsupported);
    expect(await redriveDlq(auto.client, target, { log: () => undefined })).to.deep.equal({
      mode: "copy",
      moved: 0,
    });
    expect(auto.calls.map((c) => c.name)).to.include("ReceiveMessage");
    const strict = fakeSqs(unsupported);
    let failed = false;
    await redriveDlq(strict.client, target, { mode: "move", log: () => undefined }).catch(
      () => (failed = true),
    );
    expect(failed).to.equal(true);
  });

  it("does not hide other errors (permissions) behind a copy", async () => {
    const denied = fakeSqs(() => {
      throw Object.assign(new Error("denied"), { name: "AccessDenied" });
    });
    let error: Error | undefined;
    await redriveDlq(denied.client, target, { log: () => undefined }).catch((e: Error) => (error = e));
    expect(error?.name).to.equal("AccessDenied");
    expect(denied.calls.map((c) => c.name)).not.to.include("ReceiveMessage");
  });
});
