import {
  SendTaskFailureCommand,
  SendTaskHeartbeatCommand,
  SendTaskSuccessCommand,
  SFNClient,
  StartExecutionCommand,
} from "@aws-sdk/client-sfn";
import { domainError, errorName } from "./errors";

/**
 * The order workflow (Step Functions). One AWS call per method. SendTask* errors propagate with
 * the SDK's names (`TaskTimedOut`, `TaskDoesNotExist`, `InvalidToken`: see isStaleTaskError).
 */
export interface WorkflowClient {
  /** StartExecution named after the order: "alreadyExists" means it was started before. */
  start(name: string, input: unknown): Promise<"started" | "alreadyExists">;
  sendSuccess(taskToken: string, output: unknown): Promise<void>;
  /** `error` at most 256 characters, `cause` at most 32768 (Step Functions limits). */
  sendFailure(taskToken: string, error: string, cause: string): Promise<void>;
  heartbeat(taskToken: string): Promise<void>;
}

/** Without `stateMachineArn` the client only answers task tokens (process_payment). */
export function sfnWorkflowClient(client: SFNClient, stateMachineArn?: string): WorkflowClient {
  return {
    async start(name, input) {
      if (!stateMachineArn)
        throw domainError("WorkflowNotConfigured", "this client has no state machine to start");
      try {
        await client.send(new StartExecutionCommand({ stateMachineArn, name, input: JSON.stringify(input) }));
        return "started";
      } catch (e) {
        // Same name + same input: the start is idempotent (design §5).
        if (errorName(e) === "ExecutionAlreadyExists") return "alreadyExists";
        throw e;
      }
    },
    async sendSuccess(taskToken, output) {
      await client.send(new SendTaskSuccessCommand({ taskToken, output: JSON.stringify(output) }));
    },
    async sendFailure(taskToken, error, cause) {
      await client.send(
        new SendTaskFailureCommand({ taskToken, error: error.slice(0, 256), cause: cause.slice(0, 32768) }),
      );
    },
    async heartbeat(taskToken) {
      await client.send(new SendTaskHeartbeatCommand({ taskToken }));
    },
  };
}
