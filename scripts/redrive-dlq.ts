/**
 * Moves the payment DLQ's messages back to the payment queue, for one stack or for the offline
 * runtime. process_payment acknowledges a message whose order is already terminal without side
 * effects (functions/processPayment.ts: a FAILED order only gets this consumer's own effects
 * undone, idempotently; PAID/COMPLETED only gets its recorded outcome re-sent), so redriving
 * everything is safe.
 *
 *   # a deployed stack (queue URLs from the stack outputs; AWS credentials from the environment)
 *   pulumi stack output --json > outputs.json
 *   npm run redrive-dlq -- --stack-outputs outputs.json
 *   pulumi stack output --json | npm run redrive-dlq -- --stack-outputs -
 *
 *   # the offline runtime (npm start): its SQS endpoint; the queues are found by their redrive policy
 *   npm run redrive-dlq -- --endpoint http://127.0.0.1:<sqs port>
 *
 * Options: --mode move|copy|auto (default auto: copy with --endpoint, SQS's StartMessageMoveTask
 * otherwise), --queue-url/--dlq-url (instead of outputs), --region, --max <n> (copy mode: stop
 * after n messages), --wait (move mode: wait for the task and report how many it moved).
 *
 * Prints `{"mode":"copy","moved":n}`, or `{"mode":"move","taskHandle":…,"toMove":n}` (the task's
 * ApproximateNumberOfMessagesToMove when it started) plus `"moved":n` with --wait.
 */
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import {
  DeleteMessageCommand,
  GetQueueAttributesCommand,
  ListMessageMoveTasksCommand,
  ListQueuesCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
  SQSClient,
  StartMessageMoveTaskCommand,
} from "@aws-sdk/client-sqs";

export interface RedriveTarget {
  queueUrl: string;
  deadLetterQueueUrl: string;
}

export interface RedriveResult {
  mode: "move" | "copy";
  /** Messages copied (copy mode), or moved by the task (move mode with `wait`); absent when not measured. */
  moved?: number;
  /** Move mode: the task's handle, and how many messages it set out to move. */
  taskHandle?: string;
  toMove?: number;
}

export type RedriveMode = "move" | "copy";

/** `auto`: copy against an endpoint (the offline runtime has no move task), the SQS move task otherwise. */
export function resolveMode(mode: RedriveMode | "auto", endpoint: string | undefined): RedriveMode {
  if (mode !== "auto") return mode;
  return endpoint !== undefined ? "copy" : "move";
}

type Log = (line: string) => void;

/** Queue URLs from `pulumi stack output --json` (outputs queueUrl and deadLetterQueueUrl). */
export function targetFromStackOutputs(outputs: Record<string, unknown>): RedriveTarget {
  const queueUrl = outputs.queueUrl;
  const deadLetterQueueUrl = outputs.deadLetterQueueUrl;
  if (typeof queueUrl !== "string" || typeof deadLetterQueueUrl !== "string") {
    throw new Error(
      "stack outputs must include queueUrl and deadLetterQueueUrl (pulumi stack output --json)",
    );
  }
  return { queueUrl, deadLetterQueueUrl };
}

const arnOf = async (sqs: SQSClient, url: string): Promise<string> => {
  const out = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ["QueueArn"] }));
  const arn = out.Attributes?.QueueArn;
  if (!arn) throw new Error(`no QueueArn for ${url}`);
  return arn;
};

/** The queue with a redrive policy, and its DLQ, among the endpoint's queues (offline runtime). */
export async function discoverTarget(sqs: SQSClient): Promise<RedriveTarget> {
  const urls = (await sqs.send(new ListQueuesCommand({}))).QueueUrls ?? [];
  const found: RedriveTarget[] = [];
  for (const url of urls) {
    const attrs = (
      await sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ["RedrivePolicy"] }))
    ).Attributes;
    if (!attrs?.RedrivePolicy) continue;
    const dlqArn = String(
      (JSON.parse(attrs.RedrivePolicy) as { deadLetterTargetArn?: string }).deadLetterTargetArn,
    );
    const dlqName = dlqArn.split(":").pop();
    const dlqUrl = urls.find((u) => u.split("/").pop() === dlqName);
    if (dlqUrl) found.push({ queueUrl: url, deadLetterQueueUrl: dlqUrl });
  }
  if (found.length !== 1)
    throw new Error(`expected one queue with a DLQ at this endpoint, found ${found.length}`);
  return found[0];
}

/** Receive from the DLQ, send the same body to the queue, then delete: at least once, never lost. */
async function copy(sqs: SQSClient, target: RedriveTarget, max: number, log: Log): Promise<number> {
  let moved = 0;
  const seen = new Set<string>();
  while (moved < max) {
    const out = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: target.deadLetterQueueUrl,
        MaxNumberOfMessages: Math.min(10, max - moved),
        // No long poll: the offline SQS can return a message twice in one long-polled batch.
        WaitTimeSeconds: 0,
        VisibilityTimeout: 60,
        MessageAttributeNames: ["All"],
      }),
    );
    const messages = out.Messages ?? [];
    if (messages.length === 0) break;
    for (const m of messages) {
      if (!m.MessageId || !m.ReceiptHandle || seen.has(m.MessageId)) continue;
      seen.add(m.MessageId);
      await sqs.send(
        new SendMessageCommand({
          QueueUrl: target.queueUrl,
          MessageBody: m.Body ?? "",
          MessageAttributes: m.MessageAttributes,
        }),
      );
      await sqs.send(
        new DeleteMessageCommand({ QueueUrl: target.deadLetterQueueUrl, ReceiptHandle: m.ReceiptHandle }),
      );
      moved++;
    }
  }
  log(`copied ${moved} message(s) from ${target.deadLetterQueueUrl} to ${target.queueUrl}`);
  return moved;
}

async function move(
  sqs: SQSClient,
  target: RedriveTarget,
  wait: boolean,
  pollMs: number,
  log: Log,
): Promise<RedriveResult> {
  const [sourceArn, destinationArn] = [
    await arnOf(sqs, target.deadLetterQueueUrl),
    await arnOf(sqs, target.queueUrl),
  ];
  const { TaskHandle } = await sqs.send(
    new StartMessageMoveTaskCommand({ SourceArn: sourceArn, DestinationArn: destinationArn }),
  );
  log(`started message move task from ${sourceArn} to ${destinationArn}`);
  const latest = async () =>
    (await sqs.send(new ListMessageMoveTasksCommand({ SourceArn: sourceArn, MaxResults: 1 }))).Results?.[0];
  const started = await latest();
  const toMove =
    started?.ApproximateNumberOfMessagesToMove === undefined
      ? undefined
      : Number(started.ApproximateNumberOfMessagesToMove);
  const result: RedriveResult = { mode: "move", taskHandle: TaskHandle, toMove };
  if (!wait) return result;
  for (;;) {
    await new Promise((r) => setTimeout(r, pollMs));
    const task = await latest();
    const moved = Number(task?.ApproximateNumberOfMessagesMoved ?? 0);
    log(`task ${task?.Status ?? "?"}: ${moved} moved of ${task?.ApproximateNumberOfMessagesToMove ?? "?"}`);
    if (task?.Status === "FAILED")
      throw new Error(`message move task failed: ${task.FailureReason ?? "unknown"}`);
    if (task?.Status !== "RUNNING") return { ...result, moved };
  }
}

export async function redriveDlq(
  sqs: SQSClient,
  target: RedriveTarget,
  opts: { mode: RedriveMode; max?: number; wait?: boolean; pollMs?: number; log?: Log },
): Promise<RedriveResult> {
  const log = opts.log ?? ((line: string) => process.stdout.write(line + "\n"));
  if (opts.mode === "move") return move(sqs, target, opts.wait ?? false, opts.pollMs ?? 2000, log);
  return { mode: "copy", moved: await copy(sqs, target, opts.max ?? Number.MAX_SAFE_INTEGER, log) };
}

async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      "stack-outputs": { type: "string" },
      endpoint: { type: "string" },
      "queue-url": { type: "string" },
      "dlq-url": { type: "string" },
      region: { type: "string" },
      mode: { type: "string", default: "auto" },
      max: { type: "string" },
      wait: { type: "boolean", default: false },
    },
  });
  const mode = values.mode as RedriveMode | "auto";
  if (!["move", "copy", "auto"].includes(mode)) throw new Error("--mode must be move, copy or auto");
  const offline = values.endpoint !== undefined;
  const sqs = new SQSClient({
    region: values.region ?? process.env.AWS_REGION ?? "us-east-1",
    ...(offline
      ? { endpoint: values.endpoint, credentials: { accessKeyId: "offline", secretAccessKey: "offline" } }
      : {}),
  });
  let target: RedriveTarget;
  if (values["stack-outputs"]) {
    const text = readFileSync(values["stack-outputs"] === "-" ? 0 : values["stack-outputs"], "utf8");
    target = targetFromStackOutputs(JSON.parse(text) as Record<string, unknown>);
  } else if (values["queue-url"] && values["dlq-url"]) {
    target = { queueUrl: values["queue-url"], deadLetterQueueUrl: values["dlq-url"] };
  } else if (offline) {
    target = await discoverTarget(sqs);
  } else {
    throw new Error("give --stack-outputs <file|->, --queue-url and --dlq-url, or --endpoint <offline SQS>");
  }
  const result = await redriveDlq(sqs, target, {
    mode: resolveMode(mode, values.endpoint),
    max: values.max ? Number(values.max) : undefined,
    wait: values.wait,
  });
  sqs.destroy();
  process.stdout.write(JSON.stringify(result) + "\n");
  return 0;
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => (process.exitCode = code),
    (e: Error) => {
      process.stderr.write(`redrive-dlq: ${e.message}\n`);
      process.exitCode = 1;
    },
  );
}
