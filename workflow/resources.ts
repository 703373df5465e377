/**
 * The Task `Resource` ARNs of the order workflow (`arn:<partition>:states:::<service>:<action>`),
 * built and parsed in one place, so the program, checkWorkflow and the offline runtime agree on
 * them in every partition: a GovCloud or China definition differs only in the partition.
 */

/**
 * Every AWS partition, as the AWS SDK's endpoint partition table lists them (@aws-sdk/core
 * 3.981); an ARN names one of these
 * (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference-arns.html).
 */
export const PARTITIONS = [
  "aws",
  "aws-cn",
  "aws-us-gov",
  "aws-iso",
  "aws-iso-b",
  "aws-iso-e",
  "aws-iso-f",
  "aws-eusc",
] as const;
export type Partition = (typeof PARTITIONS)[number];

const isPartition = (value: string): value is Partition => (PARTITIONS as readonly string[]).includes(value);

/**
 * The service integrations this workflow uses and the offline runtime serves, by what follows
 * `states:::` (https://docs.aws.amazon.com/step-functions/latest/dg/integrate-services.html).
 */
const INTEGRATIONS = {
  /** SendMessage, then wait until process_payment reports the task token's outcome. */
  callback: "sqs:sendMessage.waitForTaskToken",
  /** Invoke a function by `Parameters.FunctionName` and wait for its result. */
  lambdaInvoke: "lambda:invoke",
} as const;
export type Integration = keyof typeof INTEGRATIONS;

/** The Task `Resource` of an integration in a partition. */
export const integrationResource = (integration: Integration, partition = "aws"): string =>
  `arn:${partition}:states:::${INTEGRATIONS[integration]}`;

export type TaskResource =
  { ok: true; partition: Partition; integration: Integration } | { ok: false; reason: string };

/**
 * Which integration a Task's `Resource` names, in which partition; or why it is not one this
 * workflow uses. Exact and case-sensitive, as Step Functions reads ARNs: a misspelt partition or
 * action is refused, never taken for the nearest one.
 */
export function parseTaskResource(resource: unknown): TaskResource {
  if (typeof resource !== "string") return { ok: false, reason: "Resource is not a string" };
  const m = /^arn:([^:]*):states:::(.+)$/.exec(resource);
  if (!m) {
    return {
      ok: false,
      reason: `${resource} is not a service integration (arn:<partition>:states:::<service>:<action>)`,
    };
  }
  const [, partition, action] = m;
  if (!isPartition(partition)) {
    return {
      ok: false,
      reason: `${resource} names partition "${partition}", not one of ${PARTITIONS.join(", ")}`,
    };
  }
  const integration = (Object.keys(INTEGRATIONS) as Integration[]).find((k) => INTEGRATIONS[k] === action);
  if (!integration) {
    return {
      ok: false,
      reason: `${resource} is not an integration this workflow uses (${Object.values(INTEGRATIONS).join(", ")})`,
    };
  }
  return { ok: true, partition, integration };
}

/** The partition of any ARN (`arn:aws-cn:lambda:...` -> `aws-cn`), or undefined for a non-ARN. */
export function arnPartition(value: unknown): string | undefined {
  if (typeof value !== "string") return undefined;
  return /^arn:([^:]*):/.exec(value)?.[1];
}
