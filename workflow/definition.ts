import { WORKFLOW_FAIL_ERRORS } from "../functions/shared/types";
import { integrationResource } from "./resources";

/**
 * The order workflow as an Amazon States Language document (JSONPath). A pure function of
 * the ARNs and timings it needs, so the Pulumi program and the offline runtime run the same
 * definition.
 *
 * Success: ProcessPayment (callback through SQS) -> NotifyCustomer -> end.
 * Failure, decline or callback timeout: -> Compensate (refund + restock + mark FAILED) -> end.
 * Only an operational fault (compensation or notification failing after retries) ends the
 * execution FAILED, so the "executions failed" alarm means "someone must look", not "a card
 * was declined".
 */

export interface WorkflowDefinitionArgs {
  queueUrl: string;
  notifyFunctionArn: string;
  compensateFunctionArn: string;
  /** Upper bound for the whole payment step, retries included. */
  callbackTimeoutSeconds: number;
  /** process_payment heartbeats on every delivery; must exceed the queue's visibility timeout. */
  heartbeatSeconds: number;
  /**
   * The AWS partition of the service-integration ARNs (`aws-us-gov`, `aws-cn`), from the provider.
   * @default "aws"
   */
  partition?: string;
}

export const STATE = {
  processPayment: "ProcessPayment",
  notifyCustomer: "NotifyCustomer",
  compensate: "Compensate",
  notificationFailed: "NotificationFailed",
  compensationFailed: "CompensationFailed",
} as const;

/** Service-integration ARNs in a partition (the constants below are the `aws` partition's). */
const callbackResource = (partition = "aws") => integrationResource("callback", partition);
const lambdaInvokeResource = (partition = "aws") => integrationResource("lambdaInvoke", partition);
export const CALLBACK_RESOURCE = callbackResource();
export const LAMBDA_INVOKE_RESOURCE = lambdaInvokeResource();

/** Lambda service faults worth retrying (AWS's recommended list for lambda:invoke). */
const LAMBDA_TRANSIENT = [
  "Lambda.ServiceException",
  "Lambda.AWSLambdaException",
  "Lambda.SdkClientException",
  "Lambda.TooManyRequestsException",
];

export type StateMachineDefinition = {
  Comment: string;
  StartAt: string;
  TimeoutSeconds: number;
  States: Record<string, Record<string, unknown>>;
};

export function buildOrderWorkflowDefinition(args: WorkflowDefinitionArgs): StateMachineDefinition {
  validateTimings(args);
  const lambdaTask = (functionArn: string, payloadPath: Record<string, string>) => ({
    Type: "Task",
    Resource: lambdaInvokeResource(args.partition),
    Parameters: { FunctionName: functionArn, Payload: payloadPath },
    // Keep only the function's return value, not the invoke envelope.
    ResultSelector: { "value.$": "$.Payload" },
  });

  return {
    Comment: "orderflow: charge, reserve stock, notify; compensate on any failure",
    StartAt: STATE.processPayment,
    // The whole execution is bounded too: callback + notification + compensation with retries.
    TimeoutSeconds: args.callbackTimeoutSeconds + 3600,
    States: {
      [STATE.processPayment]: {
        Type: "Task",
        Resource: callbackResource(args.partition),
        Parameters: {
          QueueUrl: args.queueUrl,
          MessageBody: { "order.$": "$.order", "taskToken.$": "$$.Task.Token" },
        },
        TimeoutSeconds: args.callbackTimeoutSeconds,
        HeartbeatSeconds: args.heartbeatSeconds,
        ResultPath: "$.payment",
        // Only the SendMessage call itself is retried; a decline reported through
        // SendTaskFailure is a business outcome and goes straight to compensation.
        Retry: [
          {
            ErrorEquals: ["SQS.SdkClientException", "SQS.AmazonSQSException", "SQS.SqsException"],
            IntervalSeconds: 1,
            MaxAttempts: 3,
            BackoffRate: 2,
          },
        ],
        Catch: [{ ErrorEquals: ["States.ALL"], ResultPath: "$.error", Next: STATE.compensate }],
        Next: STATE.notifyCustomer,
      },
      [STATE.notifyCustomer]: {
        ...lambdaTask(args.notifyFunctionArn, { "order.$": "$.order", "payment.$": "$.payment" }),
        ResultPath: "$.notification",
        Retry: [
          { ErrorEquals: LAMBDA_TRANSIENT, IntervalSeconds: 1, MaxAttempts: 3, BackoffRate: 2 },
          { ErrorEquals: ["States.ALL"], IntervalSeconds: 2, MaxAttempts: 3, BackoffRate: 2 },
        ],
        // The order is already paid and completed when publishing fails: alert, don't refund.
        Catch: [{ ErrorEquals: ["States.ALL"], ResultPath: "$.error", Next: STATE.notificationFailed }],
        End: true,
      },
      [STATE.compensate]: {
        ...lambdaTask(args.compensateFunctionArn, { "order.$": "$.order", "error.$": "$.error" }),
        ResultPath: "$.compensation",
        Retry: [
          { ErrorEquals: LAMBDA_TRANSIENT, IntervalSeconds: 1, MaxAttempts: 3, BackoffRate: 2 },
          { ErrorEquals: ["States.ALL"], IntervalSeconds: 2, MaxAttempts: 5, BackoffRate: 2 },
        ],
        Catch: [{ ErrorEquals: ["States.ALL"], ResultPath: "$.error", Next: STATE.compensationFailed }],
        End: true,
      },
      [STATE.notificationFailed]: {
        Type: "Fail",
        Error: WORKFLOW_FAIL_ERRORS.notificationFailed,
        Cause: "The order is completed but the customer could not be notified",
      },
      [STATE.compensationFailed]: {
        Type: "Fail",
        Error: WORKFLOW_FAIL_ERRORS.compensationFailed,
        Cause: "Refund or restock did not finish; the sweeper or an operator must reconcile the order",
      },
    },
  };
}

export class WorkflowTimingError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "WorkflowTimingError";
  }
}

function validateTimings({ callbackTimeoutSeconds, heartbeatSeconds }: WorkflowDefinitionArgs): void {
  if (!Number.isInteger(heartbeatSeconds) || heartbeatSeconds < 1) {
    throw new WorkflowTimingError(`heartbeatSeconds must be a positive integer, got ${heartbeatSeconds}`);
  }
  if (!Number.isInteger(callbackTimeoutSeconds) || callbackTimeoutSeconds <= heartbeatSeconds) {
    throw new WorkflowTimingError(
      `callbackTimeoutSeconds (${callbackTimeoutSeconds}) must be an integer greater than heartbeatSeconds (${heartbeatSeconds})`,
    );
  }
}
