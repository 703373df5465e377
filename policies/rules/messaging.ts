/**
 * Queues that feed Lambda functions: a dead-letter queue so a poison message stops being retried,
 * and a visibility timeout long enough that a message is not redelivered while a consumer still
 * works on it. https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-configure.html
 * (visibility timeout at least six times the function timeout; optionally plus the batching window).
 */
import * as aws from "@pulumi/aws";
import { PolicyResource, StackValidationPolicy } from "@pulumi/policy";
import {
  configWithDefaults,
  DEFAULT_ENFORCEMENT,
  describe,
  isNonEmptyString,
  matchByValue,
  parseJsonDocument,
  referencedResources,
} from "./util";

/** SQS and Lambda defaults when the argument is not set. */
const SQS_DEFAULT_VISIBILITY_SECONDS = 30;
const SQS_DEFAULT_RETENTION_SECONDS = 345600;
const LAMBDA_DEFAULT_TIMEOUT_SECONDS = 3;

interface Feed {
  mapping: PolicyResource;
  queue: PolicyResource;
  functions: PolicyResource[];
}

/** Every (event source mapping, queue in this stack, consumer functions) triple. */
function queueFeeds(resources: PolicyResource[]): Feed[] {
  const queues = resources.filter((r) => r.isType(aws.sqs.Queue));
  const functions = resources.filter((r) => r.isType(aws.lambda.Function));
  const feeds: Feed[] = [];
  for (const mapping of resources.filter((r) => r.isType(aws.lambda.EventSourceMapping))) {
    const [queue] = referencedResources(mapping, "eventSourceArn", queues, ["arn"]);
    if (!queue) continue; // a stream, or a queue managed elsewhere
    const consumers = referencedResources(mapping, "functionName", functions, [
      "arn",
      "name",
      "id",
      "qualifiedArn",
    ]);
    feeds.push({ mapping, queue, functions: consumers });
  }
  return feeds;
}

/** sqs-lambda-source-has-dlq's config defaults (schema and rule). */
const DLQ_DEFAULTS = { minMaxReceiveCount: 5, requireLongerDlqRetention: true };

export const sqsLambdaSourceHasDlq: StackValidationPolicy = {
  name: "sqs-lambda-source-has-dlq",
  description:
    "Every SQS queue that feeds a Lambda function must have a redrive policy: set redrivePolicy to { deadLetterTargetArn: <DLQ ARN>, maxReceiveCount: >= minMaxReceiveCount }, with the DLQ keeping messages longer than the queue.",
  enforcementLevel: DEFAULT_ENFORCEMENT,
  severity: "high",
  configSchema: {
    properties: {
      minMaxReceiveCount: { type: "integer", minimum: 1, default: DLQ_DEFAULTS.minMaxReceiveCount },
      requireLongerDlqRetention: { type: "boolean", default: DLQ_DEFAULTS.requireLongerDlqRetention },
    },
  },
  validateStack: (args, reportViolation) => {
    const config = configWithDefaults(args, DLQ_DEFAULTS);
    const feeds = queueFeeds(args.resources);
    if (feeds.length === 0) args.notApplicable("no SQS queue in this stack feeds a Lambda function");
    const queues = args.resources.filter((r) => r.isType(aws.sqs.Queue));
    const seen = new Set<PolicyResource>();
    for (const { queue } of feeds) {
      if (seen.has(queue)) continue;
      seen.add(queue);
      const separate = args.resources.filter(
        (r) =>
          r.isType(aws.sqs.RedrivePolicy) &&
          referencedResources(r, "queueUrl", [queue], ["url", "id"]).length > 0,
      );
      const raw = separate.length > 0 ? separate[0].props.redrivePolicy : queue.props.redrivePolicy;
      if (raw === undefined || raw === null || raw === "") {
        reportViolation(`${describe(queue)} feeds a Lambda function but has no redrivePolicy.`, queue.urn);
        continue;
      }
      const parsed = parseJsonDocument(raw);
      if ("error" in parsed) {
        reportViolation(`${describe(queue)}: redrivePolicy ${parsed.error}.`, queue.urn);
        continue;
      }
      const { deadLetterTargetArn, maxReceiveCount } = parsed.doc;
      if (!isNonEmptyString(deadLetterTargetArn)) {
        reportViolation(`${describe(queue)}: redrivePolicy has no deadLetterTargetArn.`, queue.urn);
        continue;
      }
      const count = Number(maxReceiveCount);
      if (!Number.isInteger(count) || count < config.minMaxReceiveCount) {
        reportViolation(
          `${describe(queue)}: redrivePolicy.maxReceiveCount is ${String(maxReceiveCount)}; use at least ${config.minMaxReceiveCount} so a throttled or briefly failing consumer does not send good messages to the DLQ.`,
          queue.urn,
        );
      }
      if (config.requireLongerDlqRetention) {
        // The DLQ ARN is parsed out of a JSON string, so there is no property dependency: match ARNs.
        const dlqs = matchByValue(
          [deadLetterTargetArn],
          queues.filter((q) => q !== queue),
          ["arn"],
        );
        for (const dlq of dlqs) {
          const queueRetention = Number(queue.props.messageRetentionSeconds ?? SQS_DEFAULT_RETENTION_SECONDS);
          const dlqRetention = Number(dlq.props.messageRetentionSeconds ?? SQS_DEFAULT_RETENTION_SECONDS);
          if (!(dlqRetention > queueRetention)) {
            reportViolation(
              `${describe(dlq)} (the DLQ of ${describe(queue)}) keeps messages ${dlqRetention} s, not longer than the queue's ${queueRetention} s: raise its messageRetentionSeconds so redriven messages do not expire first.`,
              dlq.urn,
            );
          }
        }
      }
    }
  },
};

/** sqs-visibility-timeout-covers-consumer's config defaults (schema and rule). */
const VISIBILITY_DEFAULTS = { factor: 6, includeBatchingWindow: false };

export const sqsVisibilityCoversConsumer: StackValidationPolicy = {
  name: "sqs-visibility-timeout-covers-consumer",
  description:
    "An SQS queue that feeds a Lambda function must have visibilityTimeoutSeconds of at least 6 times the function's timeout (plus the batching window if includeBatchingWindow): raise the queue's visibility timeout or lower the function's timeout.",
  enforcementLevel: DEFAULT_ENFORCEMENT,
  severity: "medium",
  configSchema: {
    properties: {
      factor: { type: "number", minimum: 1, default: VISIBILITY_DEFAULTS.factor },
      includeBatchingWindow: {
        type: "boolean",
        default: VISIBILITY_DEFAULTS.includeBatchingWindow,
        description:
          "Also add the mapping's maximumBatchingWindowInSeconds: messages are in flight while Lambda gathers a batch, so the window eats into the visibility timeout.",
      },
    },
  },
  validateStack: (args, reportViolation) => {
    const { factor, includeBatchingWindow } = configWithDefaults(args, VISIBILITY_DEFAULTS);
    const feeds = queueFeeds(args.resources);
    if (feeds.length === 0) args.notApplicable("no SQS queue in this stack feeds a Lambda function");
    for (const { mapping, queue, functions } of feeds) {
      if (functions.length === 0) {
        reportViolation(
          `${describe(mapping)} reads ${describe(queue)} but its function is not in this stack: cannot compare timeouts.`,
          mapping.urn,
        );
        continue;
      }
      const visibility = Number(queue.props.visibilityTimeoutSeconds ?? SQS_DEFAULT_VISIBILITY_SECONDS);
      const window = includeBatchingWindow ? Number(mapping.props.maximumBatchingWindowInSeconds ?? 0) : 0;
      for (const fn of functions) {
        const timeout = Number(fn.props.timeout ?? LAMBDA_DEFAULT_TIMEOUT_SECONDS);
        const needed = factor * timeout + window;
        if (!(visibility >= needed)) {
          reportViolation(
            `${describe(queue)} has visibilityTimeoutSeconds ${visibility}; its consumer ${describe(fn)} times out after ${timeout} s, so it needs at least ${factor} x ${timeout}${window ? ` + ${window}` : ""} = ${needed} s.`,
            queue.urn,
          );
        }
      }
    }
  },
};

export const messagingPolicies = [sqsLambdaSourceHasDlq, sqsVisibilityCoversConsumer];
