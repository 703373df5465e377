/**
 * SQS: local-aws-sqs (the real SQS JSON protocol, visibility timeout, redrive to a DLQ), with
 * the registered queues and their settings.
 */
import * as http from "node:http";
import { SQSClient, GetQueueAttributesCommand } from "@aws-sdk/client-sqs";
import { createRequestHandler } from "local-aws-sqs";
import { close, listen } from "./net";
import type { LocalQueue } from "./topology";

export interface LocalSqs {
  endpoint: string;
  client: SQSClient;
  /** Local URL of a registered queue, by name. */
  urlOf(queueName: string): string;
  /** Visible + in-flight messages (ApproximateNumberOfMessages + ...NotVisible). */
  depth(queueName: string): Promise<{ visible: number; inFlight: number }>;
  stop(): Promise<void>;
}

export async function startSqs(opts: {
  queues: LocalQueue[];
  region: string;
  accountId: string;
  port?: number;
  credentials: { accessKeyId: string; secretAccessKey: string };
}): Promise<LocalSqs> {
  // Dead-letter queues first: a redrive policy must name an existing queue.
  const ordered = [...opts.queues].sort((a, b) => Number(!!a.redrive) - Number(!!b.redrive));
  const { service, requestHandler } = createRequestHandler({
    port: 0,
    hostname: "127.0.0.1",
    region: opts.region,
    accountId: opts.accountId,
    emulateQueueCreationLifecycle: false,
    queues: ordered.map((q) => ({
      QueueName: q.name,
      Attributes: {
        VisibilityTimeout: q.visibilityTimeoutSeconds,
        MessageRetentionPeriod: q.messageRetentionSeconds,
        ...(q.redrive
          ? {
              RedrivePolicy: JSON.stringify({
                deadLetterTargetArn: opts.queues.find((d) => d.name === q.redrive!.deadLetterQueueName)!.arn,
                maxReceiveCount: q.redrive.maxReceiveCount,
              }),
            }
          : {}),
      },
    })),
  });
  const server = http.createServer((req, res) => void requestHandler(req, res));
  const port = await listen(server, opts.port ?? 0);
  // Queue URLs are computed from the service's port on every read: give it the bound one.
  (service as unknown as { PORT: number }).PORT = port;
  const endpoint = `http://127.0.0.1:${port}`;
  const client = new SQSClient({ endpoint, region: opts.region, credentials: opts.credentials });
  const urlOf = (name: string) => {
    if (!opts.queues.some((q) => q.name === name)) throw new Error(`Unknown queue ${name}`);
    return `${endpoint}/${opts.accountId}/${name}`;
  };
  return {
    endpoint,
    client,
    urlOf,
    depth: async (name) => {
      const out = await client.send(
        new GetQueueAttributesCommand({
          QueueUrl: urlOf(name),
          AttributeNames: ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        }),
      );
      return {
        visible: Number(out.Attributes?.ApproximateNumberOfMessages ?? 0),
        inFlight: Number(out.Attributes?.ApproximateNumberOfMessagesNotVisible ?? 0),
      };
    },
    stop: async () => {
      client.destroy();
      await close(server);
    },
  };
}
