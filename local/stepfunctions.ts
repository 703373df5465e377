/**
 * Step Functions: aws-local-stepfunctions runs the registered definition; this module adds what
 * it lacks (design §6) and serves the handlers' `@aws-sdk/client-sfn` calls.
 *
 * - `.waitForTaskToken` on `sqs:sendMessage`: the emulator has no task tokens and no
 *   `$$.Task.Token`. The execution's context object carries a placeholder at `Task.Token`, so
 *   the definition's own `"taskToken.$": "$$.Task.Token"` resolves to it; the adapter swaps the
 *   placeholder for a fresh single-use token, sends the message to the local queue and waits
 *   for SendTaskSuccess / SendTaskFailure, enforcing TimeoutSeconds (`States.Timeout`) and
 *   HeartbeatSeconds (`States.HeartbeatTimeout`), which the definition's Catch handles.
 * - `lambda:invoke`: runs the local handler named by `FunctionName` and returns the invoke
 *   envelope `{Payload, StatusCode}`; a handler error surfaces as its `errorType`, so the
 *   definition's Retry/Catch match it as on AWS.
 * - An awsJson 1.0 front end: StartExecution (name = idempotency key), DescribeExecution,
 *   StopExecution, SendTaskSuccess / SendTaskFailure / SendTaskHeartbeat.
 */
import "./polyfills";
import { randomBytes } from "node:crypto";
import * as http from "node:http";
import { SendMessageCommand, type SQSClient } from "@aws-sdk/client-sqs";
import { StateMachine } from "aws-local-stepfunctions";
import type { StateMachineDefinition } from "../workflow/definition";
import { close, listen, readBody, sendJson } from "./net";
import type { LocalFunctions } from "./lambda";
import { functionNameOf, queueNameOf, taskKind, type LocalStateMachine } from "./topology";
import type { Logger } from "./log";

const TOKEN_PLACEHOLDER = "__orderflow_local_task_token__";
const TOKEN_PREFIX = "lt1.";
/**
 * Ended tokens remembered (oldest dropped first), so a late SendTask* gets TaskTimedOut rather
 * than TaskDoesNotExist; a token older than the last this-many answers TaskDoesNotExist.
 */
const ENDED_TOKENS_KEPT = 10_000;

export type ExecutionStatus = "RUNNING" | "SUCCEEDED" | "FAILED" | "TIMED_OUT" | "ABORTED";

export interface Execution {
  executionArn: string;
  stateMachineArn: string;
  name: string;
  input: string;
  status: ExecutionStatus;
  startDate: Date;
  stopDate?: Date;
  output?: string;
  error?: string;
  cause?: string;
  /** Names of the states entered, in order (for tests and logs). */
  states: string[];
  done: Promise<void>;
  abort: () => void;
}

interface PendingTask {
  executionArn: string;
  stateName: string;
  resolve: (value: unknown) => void;
  reject: (error: Error) => void;
  heartbeatTimer?: NodeJS.Timeout;
  timeoutTimer?: NodeJS.Timeout;
  heartbeatMs?: number;
}

type TokenEnd = "completed" | "timedOut";

/** An error carrying an awsJson `__type`, as client-sfn parses it into `err.name`. */
export class SfnApiError extends Error {
  constructor(
    readonly type: string,
    message: string,
    readonly status = 400,
  ) {
    super(message);
    this.name = type;
  }
}

const namedError = (name: string, message: string) => Object.assign(new Error(message), { name });

export interface LocalStepFunctionsOptions {
  machines: LocalStateMachine[];
  functions: LocalFunctions;
  sqs: SQSClient;
  /** Deployed queue URL (as in the definition) -> local queue URL. */
  localQueueUrl: (deployedUrl: string) => string;
  partition: string;
  region: string;
  accountId: string;
  log: Logger;
}

export class LocalStepFunctions {
  readonly executions = new Map<string, Execution>();
  private readonly tasks = new Map<string, PendingTask>();
  private readonly ended = new Map<string, TokenEnd>();
  private readonly machines = new Map<string, { sm: LocalStateMachine; engine: StateMachine }>();
  private stopped = false;

  constructor(private readonly opts: LocalStepFunctionsOptions) {
    for (const sm of opts.machines) {
      // checkArn off: the callback resource is not a Lambda ARN, which the validator expects.
      const engine = new StateMachine(sm.definition as never, { validationOptions: { checkArn: false } });
      this.machines.set(sm.arn, { sm, engine });
    }
  }

  // ---- the API the front end serves ------------------------------------------------------

  startExecution(stateMachineArn: string, name: string | undefined, input = "{}"): Execution {
    if (this.stopped) throw new SfnApiError("ServiceUnavailable", "The local runtime is stopping", 503);
    const machine = this.machines.get(stateMachineArn);
    if (!machine)
      throw new SfnApiError("StateMachineDoesNotExist", `State Machine Does Not Exist: '${stateMachineArn}'`);
    const execName = name ?? randomBytes(16).toString("hex");
    if (!/^[A-Za-z0-9_-]{1,80}$/.test(execName))
      throw new SfnApiError("InvalidName", `Invalid Name: '${execName}'`);
    let parsed: unknown;
    try {
      parsed = JSON.parse(input);
    } catch {
      throw new SfnApiError("InvalidExecutionInput", "Invalid State Machine Execution Input: not JSON");
    }
    const { partition } = this.opts;
    const executionArn = `arn:${partition}:states:${this.opts.region}:${this.opts.accountId}:execution:${machine.sm.name}:${execName}`;
    const existing = this.executions.get(executionArn);
    if (existing) {
      // AWS: same name and input while RUNNING returns the original execution; anything else is a conflict.
      if (existing.status === "RUNNING" && existing.input === input) return existing;
      throw new SfnApiError("ExecutionAlreadyExists", `Execution Already Exists: '${executionArn}'`);
    }

    const run = machine.engine.run(parsed as never, {
      noThrowOnAbort: true,
      context: {
        Execution: {
          Id: executionArn,
          Name: execName,
          RoleArn: `arn:${partition}:iam::000000000000:role/local`,
        },
        StateMachine: { Id: machine.sm.arn, Name: machine.sm.name },
        Task: { Token: TOKEN_PLACEHOLDER },
      },
      overrides: {
        taskResourceLocalHandlers: this.taskHandlers(machine.sm.definition, executionArn) as never,
      },
    });
    const execution: Execution = {
      executionArn,
      stateMachineArn,
      name: execName,
      input,
      status: "RUNNING",
      startDate: new Date(),
      states: [],
      abort: run.abort,
      done: Promise.resolve(),
    };
    execution.done = run.result
      .then(
        (output) => {
          if (execution.status !== "RUNNING") return;
          execution.status = output === null && this.stopped ? "ABORTED" : "SUCCEEDED";
          execution.output = JSON.stringify(output);
        },
        (err: Error) => {
          if (err.name === "ExecutionTimeoutError") execution.status = "TIMED_OUT";
          else {
            execution.status = "FAILED";
            const cause = (err as Error & { cause?: Error }).cause;
            execution.error = cause?.name ?? err.name;
            execution.cause = cause?.message ?? err.message;
          }
        },
      )
      .finally(() => {
        execution.stopDate = new Date();
        this.dropTasksOf(executionArn);
        this.opts.log.info("execution ended", {
          orderId: execName,
          status: execution.status,
          error: execution.error,
          states: execution.states.join(" > "),
        });
      });
    void this.follow(run.eventLogs as AsyncGenerator<{ type: string; state?: { name: string } }>, execution);
    this.executions.set(executionArn, execution);
    return execution;
  }

  describeExecution(executionArn: string): Execution {
    const e = this.executions.get(executionArn);
    if (!e) throw new SfnApiError("ExecutionDoesNotExist", `Execution Does Not Exist: '${executionArn}'`);
    return e;
  }

  stopExecution(executionArn: string, error?: string, cause?: string): Execution {
    const e = this.describeExecution(executionArn);
    if (e.status === "RUNNING") {
      e.status = "ABORTED";
      e.error = error;
      e.cause = cause;
      e.abort();
    }
    return e;
  }

  sendTaskSuccess(token: string, output: string): void {
    let value: unknown;
    try {
      value = JSON.parse(output);
    } catch {
      throw new SfnApiError("InvalidOutput", "Invalid Output: not JSON");
    }
    const task = this.take(token);
    task.resolve(value);
  }

  sendTaskFailure(token: string, error?: string, cause?: string): void {
    const task = this.take(token);
    task.reject(namedError(error ?? "", cause ?? ""));
  }

  sendTaskHeartbeat(token: string): void {
    const task = this.find(token);
    if (task.heartbeatMs !== undefined) {
      clearTimeout(task.heartbeatTimer);
      task.heartbeatTimer = this.heartbeatTimer(token, task.heartbeatMs);
    }
  }

  /** Resolves when every execution started so far has ended. */
  async drain(): Promise<void> {
    await Promise.all([...this.executions.values()].map((e) => e.done));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const e of this.executions.values()) if (e.status === "RUNNING") e.abort();
    for (const token of [...this.tasks.keys()])
      this.endTask(token, "timedOut")?.reject(namedError("States.Runtime", "stopped"));
    await Promise.race([this.drain(), new Promise((r) => setTimeout(r, 2000).unref())]);
  }

  // ---- Task adapters -----------------------------------------------------------------------

  private taskHandlers(definition: StateMachineDefinition, executionArn: string) {
    const handlers: Record<string, (input: unknown) => Promise<unknown>> = {};
    for (const [stateName, state] of Object.entries(definition.States)) {
      if (state.Type !== "Task") continue;
      handlers[stateName] =
        taskKind(stateName, state).kind === "callback"
          ? (input) => this.callbackTask(executionArn, stateName, state, input)
          : (input) => this.lambdaTask(input);
    }
    return handlers;
  }

  /** `lambda:invoke`: the handler named by the resolved `FunctionName`, in the invoke envelope. */
  private async lambdaTask(input: unknown): Promise<unknown> {
    const { FunctionName, Payload } = (input ?? {}) as { FunctionName?: string; Payload?: unknown };
    if (!FunctionName) throw namedError("States.Runtime", "lambda:invoke without FunctionName");
    const result = await this.opts.functions.invoke(functionNameOf(FunctionName), Payload ?? {});
    return { Payload: result, StatusCode: 200, ExecutedVersion: "$LATEST" };
  }

  private callbackTask(
    executionArn: string,
    stateName: string,
    state: Record<string, unknown>,
    input: unknown,
  ): Promise<unknown> {
    const token = TOKEN_PREFIX + randomBytes(24).toString("base64url");
    const params = replaceDeep(input, TOKEN_PLACEHOLDER, token) as {
      QueueUrl?: string;
      MessageBody?: unknown;
    };
    const timeoutSeconds = Number(state.TimeoutSeconds ?? 99_999_999);
    const heartbeatSeconds =
      state.HeartbeatSeconds === undefined ? undefined : Number(state.HeartbeatSeconds);

    return new Promise<unknown>((resolve, reject) => {
      const task: PendingTask = { executionArn, stateName, resolve, reject };
      this.tasks.set(token, task);
      task.timeoutTimer = setTimeout(
        () =>
          this.endTask(token, "timedOut")?.reject(
            namedError("States.Timeout", `Task timed out after ${timeoutSeconds} s`),
          ),
        timeoutSeconds * 1000,
      );
      if (heartbeatSeconds !== undefined) {
        task.heartbeatMs = heartbeatSeconds * 1000;
        task.heartbeatTimer = this.heartbeatTimer(token, task.heartbeatMs);
      }
      const body =
        typeof params.MessageBody === "string" ? params.MessageBody : JSON.stringify(params.MessageBody);
      const queueUrl = this.opts.localQueueUrl(String(params.QueueUrl));
      this.opts.sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: body })).then(
        () =>
          this.opts.log.debug("callback message sent", { state: stateName, queue: queueNameOf(queueUrl) }),
        (err: Error) => {
          // Step Functions reports SDK faults of an integration as `<Service>.<ErrorName>`.
          const name = err.name && err.name !== "Error" ? `SQS.${err.name}` : "SQS.SdkClientException";
          this.endTask(token, "completed")?.reject(namedError(name, err.message));
        },
      );
    });
  }

  private heartbeatTimer(token: string, ms: number): NodeJS.Timeout {
    return setTimeout(
      () =>
        this.endTask(token, "timedOut")?.reject(
          namedError("States.HeartbeatTimeout", `No heartbeat for ${ms / 1000} s`),
        ),
      ms,
    );
  }

  private endTask(token: string, how: TokenEnd): PendingTask | undefined {
    const task = this.tasks.get(token);
    if (!task) return undefined;
    clearTimeout(task.timeoutTimer);
    clearTimeout(task.heartbeatTimer);
    this.tasks.delete(token);
    this.ended.set(token, how);
    if (this.ended.size > ENDED_TOKENS_KEPT) this.ended.delete(this.ended.keys().next().value as string);
    return task;
  }

  private find(token: string): PendingTask {
    if (typeof token !== "string" || !token.startsWith(TOKEN_PREFIX) || token.length > 1024) {
      throw new SfnApiError("InvalidToken", "Invalid Token");
    }
    const task = this.tasks.get(token);
    if (task) return task;
    if (this.ended.get(token) === "timedOut") throw new SfnApiError("TaskTimedOut", "Task Timed Out");
    throw new SfnApiError("TaskDoesNotExist", "Task Does Not Exist");
  }

  private take(token: string): PendingTask {
    this.find(token);
    return this.endTask(token, "completed") as PendingTask;
  }

  private dropTasksOf(executionArn: string): void {
    for (const [token, task] of this.tasks) {
      if (task.executionArn === executionArn) this.endTask(token, "timedOut");
    }
  }

  private async follow(
    events: AsyncGenerator<{ type: string; state?: { name: string } }>,
    execution: Execution,
  ) {
    try {
      for await (const event of events) {
        if (event.type === "StateEntered" && event.state) execution.states.push(event.state.name);
        if (event.type === "StateCaught" || event.type === "StateRetried") {
          this.opts.log.debug(event.type, { orderId: execution.name, state: event.state?.name });
        }
      }
    } catch {
      // The log ends with the execution.
    }
  }
}

function replaceDeep(value: unknown, from: string, to: string): unknown {
  if (value === from) return to;
  if (Array.isArray(value)) return value.map((v) => replaceDeep(v, from, to));
  if (value && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, replaceDeep(v, from, to)]));
  }
  return value;
}

const epochSeconds = (d?: Date) => (d ? d.getTime() / 1000 : undefined);

/** The awsJson 1.0 front end (`X-Amz-Target: AWSStepFunctions.<Operation>`). */
export async function startSfnServer(
  getSfn: () => LocalStepFunctions | undefined,
  port = 0,
): Promise<{ endpoint: string; stop(): Promise<void> }> {
  const server = http.createServer(async (req, res) => {
    const reply = (status: number, body: unknown) =>
      sendJson(res, status, body, {}, "application/x-amz-json-1.0");
    try {
      const sfn = getSfn();
      if (!sfn) throw new SfnApiError("ServiceUnavailable", "Starting", 503);
      const target = String(req.headers["x-amz-target"] ?? "");
      const op = target.startsWith("AWSStepFunctions.") ? target.slice("AWSStepFunctions.".length) : "";
      const raw = (await readBody(req, 1024 * 1024)).toString("utf8");
      const body = (raw ? JSON.parse(raw) : {}) as Record<string, string | undefined>;
      switch (op) {
        case "StartExecution": {
          const e = sfn.startExecution(String(body.stateMachineArn), body.name, body.input ?? "{}");
          return reply(200, { executionArn: e.executionArn, startDate: epochSeconds(e.startDate) });
        }
        case "DescribeExecution": {
          const e = sfn.describeExecution(String(body.executionArn));
          return reply(200, {
            executionArn: e.executionArn,
            stateMachineArn: e.stateMachineArn,
            name: e.name,
            status: e.status,
            startDate: epochSeconds(e.startDate),
            stopDate: epochSeconds(e.stopDate),
            input: e.input,
            output: e.output,
            error: e.error,
            cause: e.cause,
          });
        }
        case "StopExecution": {
          const e = sfn.stopExecution(String(body.executionArn), body.error, body.cause);
          return reply(200, { stopDate: epochSeconds(e.stopDate ?? new Date()) });
        }
        case "SendTaskSuccess":
          sfn.sendTaskSuccess(String(body.taskToken), String(body.output));
          return reply(200, {});
        case "SendTaskFailure":
          sfn.sendTaskFailure(String(body.taskToken), body.error, body.cause);
          return reply(200, {});
        case "SendTaskHeartbeat":
          sfn.sendTaskHeartbeat(String(body.taskToken));
          return reply(200, {});
        default:
          return reply(400, {
            __type: "UnknownOperationException",
            message: `Unsupported operation ${target}`,
          });
      }
    } catch (err) {
      if (err instanceof SfnApiError) return reply(err.status, { __type: err.type, message: err.message });
      if (err instanceof SyntaxError)
        return reply(400, { __type: "SerializationException", message: "Malformed JSON" });
      return reply(500, { __type: "InternalFailure", message: (err as Error).message });
    }
  });
  const bound = await listen(server, port);
  return { endpoint: `http://127.0.0.1:${bound}`, stop: () => close(server) };
}
