/**
 * The event source mapping: polls a queue and hands batches to the function, with the
 * registered batch size and `ReportBatchItemFailures` semantics (only the failed records stay in
 * the queue; a thrown error or an invalid response leaves the whole batch to be retried after the
 * visibility timeout, and redrive moves it to the DLQ after maxReceiveCount receives).
 *
 * local-aws-sqs can return one message twice in a batch when long polling with
 * MaxNumberOfMessages > 1 (design §6): poll with WaitTimeSeconds 0 and drop duplicates.
 */
import {
  DeleteMessageBatchCommand,
  ReceiveMessageCommand,
  type Message,
  type SQSClient,
} from "@aws-sdk/client-sqs";
import type { SQSEvent, SQSRecord } from "aws-lambda";
import type { LocalFunctions } from "./lambda";
import type { Logger } from "./log";
import { sleep } from "./net";

export interface PollerOptions {
  sqs: SQSClient;
  functions: LocalFunctions;
  queueUrl: string;
  queueArn: string;
  functionName: string;
  batchSize: number;
  reportBatchItemFailures: boolean;
  /** Concurrent batches (Lambda starts with five pollers for an SQS source). */
  concurrency: number;
  region: string;
  /** Pause between empty receives. */
  idleMs?: number;
  log: Logger;
}

export class QueuePoller {
  private running = false;
  private paused = false;
  private workers: Promise<void>[] = [];
  /** Batches being received, run or deleted right now (not the idle back-off between polls). */
  private readonly inFlight = new Set<Promise<boolean>>();

  constructor(private readonly o: PollerOptions) {}

  start(): void {
    if (this.running) return;
    this.running = true;
    for (let i = 0; i < this.o.concurrency; i++) this.workers.push(this.work());
  }

  /** Stops taking new batches (messages wait in the queue) until `resume`; resolves once no batch is in flight. */
  async pause(): Promise<void> {
    this.paused = true;
    await Promise.allSettled([...this.inFlight]);
  }

  resume(): void {
    this.paused = false;
  }

  async stop(): Promise<void> {
    this.running = false;
    await Promise.all(this.workers);
    this.workers = [];
  }

  private async work(): Promise<void> {
    const idle = this.o.idleMs ?? 25;
    // Back off while the queue stays empty (up to 8x), so idle pollers cost next to nothing.
    let wait = idle;
    while (this.running) {
      if (this.paused) {
        await sleep(idle);
        continue;
      }
      const batch = this.pollOnce();
      this.inFlight.add(batch);
      try {
        const got = await batch;
        this.inFlight.delete(batch);
        if (got) wait = idle;
        else {
          await sleep(wait);
          wait = Math.min(wait * 2, idle * 8);
        }
      } catch (err) {
        this.inFlight.delete(batch);
        if (!this.running) return;
        this.o.log.warn("poller error", { queue: this.o.queueUrl, error: (err as Error).message });
        await sleep(idle * 4);
      }
    }
  }

  /** One receive + invoke + delete cycle; false when the queue was empty. */
  async pollOnce(): Promise<boolean> {
    const messages = await this.receive();
    if (messages.length === 0) return false;
    const records = messages.filter((m) => m.Body !== undefined).map((m) => this.toRecord(m));
    const handles = new Map<string, string[]>();
    for (const m of messages)
      handles.set(String(m.MessageId), [
        ...(handles.get(String(m.MessageId)) ?? []),
        String(m.ReceiptHandle),
      ]);

    let failed: Set<string>;
    try {
      const event: SQSEvent = { Records: records };
      const result = (await this.o.functions.invoke(this.o.functionName, event)) as {
        batchItemFailures?: { itemIdentifier?: string }[];
      } | null;
      failed = this.failuresOf(result, records);
    } catch (err) {
      // The function failed: nothing is deleted; every record comes back after the visibility timeout.
      this.o.log.debug("batch failed", { function: this.o.functionName, error: (err as Error).name });
      return true;
    }
    const done = records.filter((r) => !failed.has(r.messageId));
    const entries = done.flatMap((r, i) =>
      (handles.get(r.messageId) ?? []).map((h, j) => ({ Id: `m${i}_${j}`, ReceiptHandle: h })),
    );
    for (let i = 0; i < entries.length; i += 10) {
      await this.o.sqs.send(
        new DeleteMessageBatchCommand({ QueueUrl: this.o.queueUrl, Entries: entries.slice(i, i + 10) }),
      );
    }
    return true;
  }

  private async receive(): Promise<Message[]> {
    const seen = new Set<string>();
    const out: Message[] = [];
    while (out.length < this.o.batchSize) {
      const res = await this.o.sqs.send(
        new ReceiveMessageCommand({
          QueueUrl: this.o.queueUrl,
          MaxNumberOfMessages: Math.min(10, this.o.batchSize - out.length),
          WaitTimeSeconds: 0,
          // local-aws-sqs reads the older AttributeNames; SQS takes both.
          AttributeNames: ["All"],
          MessageSystemAttributeNames: ["All"],
          MessageAttributeNames: ["All"],
        }),
      );
      const got = res.Messages ?? [];
      let fresh = 0;
      for (const m of got) {
        if (seen.has(String(m.MessageId))) {
          // A duplicate within the batch: keep its receipt handle too, so the delete is complete.
          out.push({ ...m, Body: undefined });
          continue;
        }
        seen.add(String(m.MessageId));
        out.push(m);
        fresh++;
      }
      if (got.length === 0 || fresh === 0 || got.length < 10) break;
    }
    return out;
  }

  private toRecord(m: Message): SQSRecord {
    const a = m.Attributes ?? {};
    return {
      messageId: String(m.MessageId),
      receiptHandle: String(m.ReceiptHandle),
      body: String(m.Body ?? ""),
      attributes: {
        ApproximateReceiveCount: a.ApproximateReceiveCount ?? "1",
        SentTimestamp: a.SentTimestamp ?? String(Date.now()),
        SenderId: a.SenderId ?? "LOCAL",
        ApproximateFirstReceiveTimestamp: a.ApproximateFirstReceiveTimestamp ?? String(Date.now()),
      },
      messageAttributes: {},
      md5OfBody: String(m.MD5OfBody ?? ""),
      eventSource: "aws:sqs",
      eventSourceARN: this.o.queueArn,
      awsRegion: this.o.region,
    };
  }

  /** Lambda's rules for a partial batch response: an unknown or empty identifier fails the whole batch. */
  private failuresOf(
    result: { batchItemFailures?: { itemIdentifier?: string }[] } | null,
    records: SQSRecord[],
  ): Set<string> {
    if (!this.o.reportBatchItemFailures || !result || !Array.isArray(result.batchItemFailures))
      return new Set();
    const ids = new Set(records.map((r) => r.messageId));
    const failed = new Set<string>();
    for (const f of result.batchItemFailures) {
      if (!f?.itemIdentifier || !ids.has(f.itemIdentifier)) return ids;
      failed.add(f.itemIdentifier);
    }
    return failed;
  }
}
