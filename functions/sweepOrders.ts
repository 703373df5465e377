import * as v from "valibot";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { LambdaClient } from "@aws-sdk/client-lambda";
import { DescribeExecutionCommand, SFNClient } from "@aws-sdk/client-sfn";
import { domainError, errorName, namedError } from "./shared/errors";
import { invokeJson } from "./shared/lambdaInvoke";
import { createLogger, type Logger } from "./shared/log";
import { orderMetric } from "./shared/metrics";
import { toWorkflowOrder } from "./shared/order";
import { dynamoOrderStatusSource, type ListedOrder, type OrderStatusSource } from "./shared/orderStore";
import { ENV, intEnv, requireEnv, type Env } from "./shared/settings";
import {
  ORDER_STATUSES,
  TERMINAL_STATUSES,
  WORKFLOW_FAIL_ERRORS,
  type CompensateInput,
  type CompensateResult,
  type OrderStatus,
  type WorkflowInput,
} from "./shared/types";
import { sfnWorkflowClient, type WorkflowClient } from "./shared/workflowClient";

/** Statuses an order leaves only through its workflow execution. */
export const NON_TERMINAL: readonly OrderStatus[] = ORDER_STATUSES.filter(
  (s) => !TERMINAL_STATUSES.includes(s),
);

// ---- ports ------------------------------------------------------------------------------------

/** The byStatus index, every shard (orderStore's dynamoOrderStatusSource). */
export type SweepOrderSource = OrderStatusSource;

export type ExecutionStatus =
  "RUNNING" | "SUCCEEDED" | "FAILED" | "TIMED_OUT" | "ABORTED" | "PENDING_REDRIVE";

export interface ExecutionReader {
  /** The order's execution (name = orderId), or undefined when none was ever started. */
  describe(orderId: string): Promise<{ status: ExecutionStatus; error?: string } | undefined>;
}

export interface Compensator {
  compensate(input: CompensateInput): Promise<CompensateResult>;
}

export interface SweepOrdersDeps {
  orders: SweepOrderSource;
  executions: ExecutionReader;
  workflow: Pick<WorkflowClient, "start">;
  compensator: Compensator;
  /** Age after which a non-terminal order is stuck: callback timeout + margin. */
  stuckAfterSeconds: number;
  now: () => Date;
  log: Logger;
  /** Upper bound on orders reconciled per run (the rest wait for the next run). @default 100 */
  maxOrdersPerRun?: number;
}

export type SweepAction =
  /** NEW, and no execution was ever started (create_order failed after storing it): started now. */
  | "started"
  /** The execution is still running: it is bounded by its own timeout, nothing to do. */
  | "running"
  /** The execution ended and left the order non-terminal: compensation ran (refund, restock, FAILED). */
  | "compensated"
  /** Cannot be settled safely without a person (see `why`); counted in OrdersNeedingAttention. */
  | "needsAttention";

export interface SweepEntry {
  orderId: string;
  status: OrderStatus;
  action: SweepAction;
  execution?: ExecutionStatus;
  why?: string;
}

export interface SweepReport {
  olderThanSeconds: number;
  inFlight: number;
  entries: SweepEntry[];
  /** True when more stuck orders were left for the next run. */
  truncated: boolean;
}

/**
 * sweep_orders: finds orders stuck in NEW, PROCESSING or PAID for longer than the callback
 * timeout plus a margin, and settles each through the same paths the workflow uses:
 *  - no execution and NEW: StartExecution named after the order (idempotent, design §5);
 *  - execution still RUNNING: left alone (its own TimeoutSeconds ends it);
 *  - execution ended (compensation failed, timed out, aborted): compensate_order, which is
 *    idempotent and refunds/restocks only what happened;
 *  - anything a refund could make worse (paid and the notification failed, an execution that
 *    SUCCEEDED without settling the order, PROCESSING/PAID with no execution): reported, not touched.
 * Running it twice does nothing more: a settled order is terminal and no longer listed.
 *
 * The event is EventBridge's scheduled event; an operator may invoke it with
 * `{"olderThanSeconds": N}` to sweep younger orders now.
 */
export function sweepOrdersHandler(deps: SweepOrdersDeps): (event?: unknown) => Promise<SweepReport> {
  const eventSchema = v.object({
    olderThanSeconds: v.optional(v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(31 * 86_400))),
  });
  const max = deps.maxOrdersPerRun ?? 100;

  const settle = async (order: ListedOrder): Promise<SweepEntry> => {
    const { orderId, status } = order;
    const log = deps.log.child({ orderId, status });
    const entry = (action: SweepAction, extra: Partial<SweepEntry> = {}): SweepEntry => {
      const e = { orderId, status, action, ...extra };
      (action === "needsAttention" ? log.warn : log.info)("stuck order", { ...extra, action });
      return e;
    };
    const execution = await deps.executions.describe(orderId);
    if (!execution) {
      if (status !== "NEW") return entry("needsAttention", { why: `${status} without an execution` });
      const input: WorkflowInput = { order: toWorkflowOrder(order) };
      const started = await deps.workflow.start(orderId, input);
      return entry(started === "started" ? "started" : "running");
    }
    const base = { execution: execution.status };
    if (execution.status === "RUNNING" || execution.status === "PENDING_REDRIVE")
      return entry("running", base);
    if (execution.status === "SUCCEEDED") {
      return entry("needsAttention", { ...base, why: "execution SUCCEEDED but the order is not terminal" });
    }
    if (execution.error === WORKFLOW_FAIL_ERRORS.notificationFailed) {
      return entry("needsAttention", {
        ...base,
        why: "paid, customer not notified: re-notify, do not refund",
      });
    }
    try {
      await deps.compensator.compensate({
        order: toWorkflowOrder(order),
        error: {
          Error: "States.Timeout",
          Cause: `orderflow sweeper: execution ${execution.status}${execution.error ? ` (${execution.error})` : ""} left the order ${status}`,
        },
      });
      return entry("compensated", base);
    } catch (e) {
      log.error("compensation failed", { error: e });
      return entry("needsAttention", { ...base, why: `compensation failed: ${errorName(e)}` });
    }
  };

  return async (event) => {
    const parsed = v.safeParse(eventSchema, typeof event === "object" && event !== null ? event : {});
    const olderThanSeconds = parsed.success
      ? (parsed.output.olderThanSeconds ?? deps.stuckAfterSeconds)
      : deps.stuckAfterSeconds;
    const now = deps.now();
    const before = new Date(now.getTime() - olderThanSeconds * 1000).toISOString();

    let inFlight = 0;
    for (const status of NON_TERMINAL) inFlight += await deps.orders.count(status);
    deps.log.info("orders in flight", { inFlight, ...orderMetric("OrdersInFlight", inFlight) });

    const entries: SweepEntry[] = [];
    let truncated = false;
    for (const status of NON_TERMINAL) {
      let startKey: Record<string, unknown> | undefined;
      do {
        const page = await deps.orders.createdBefore(status, before, startKey);
        for (const order of page.items) {
          if (entries.length >= max) {
            truncated = true;
            break;
          }
          entries.push(await settle(order));
        }
        startKey = page.lastKey;
      } while (startKey && !truncated);
      if (truncated) break;
    }
    const attention = entries.filter((e) => e.action === "needsAttention").length;
    deps.log.info("sweep finished", {
      olderThanSeconds,
      stuck: entries.length,
      truncated,
      ...orderMetric("OrdersNeedingAttention", attention),
    });
    return { olderThanSeconds, inFlight, entries, truncated };
  };
}

// ---- adapters ---------------------------------------------------------------------------------

/** An execution's ARN: the state machine's ARN with `execution` and the execution name. */
export function executionArnOf(stateMachineArn: string, name: string): string {
  const parts = stateMachineArn.split(":");
  if (parts.length !== 7 || parts[5] !== "stateMachine") {
    throw domainError("DataError", `not a state machine ARN: ${stateMachineArn}`);
  }
  return [...parts.slice(0, 5), "execution", parts[6], name].join(":");
}

export function sfnExecutionReader(client: SFNClient, stateMachineArn: string): ExecutionReader {
  return {
    async describe(orderId) {
      try {
        const out = await client.send(
          new DescribeExecutionCommand({ executionArn: executionArnOf(stateMachineArn, orderId) }),
        );
        return { status: out.status as ExecutionStatus, error: out.error };
      } catch (e) {
        if (errorName(e) === "ExecutionDoesNotExist") return undefined;
        throw e;
      }
    },
  };
}

/** compensate_order, invoked synchronously (the same function the workflow's Compensate state runs). */
export function lambdaCompensator(client: LambdaClient, functionName: string): Compensator {
  return {
    async compensate(input) {
      const { payload, text, functionError, errorType } = await invokeJson(client, functionName, input);
      if (functionError) {
        throw namedError(errorType ?? "FunctionError", `compensate_order failed: ${text.slice(0, 500)}`);
      }
      if (typeof payload !== "object" || payload === null) {
        throw namedError("FunctionError", `compensate_order returned no result: ${text.slice(0, 500)}`);
      }
      return payload as CompensateResult;
    },
  };
}

export function sweepOrdersFromEnv(env: Env = process.env) {
  const stateMachineArn = requireEnv(env, ENV.stateMachineArn);
  const compensateFunction = requireEnv(env, ENV.compensateFunction);
  const sfn = new SFNClient({});
  return sweepOrdersHandler({
    orders: dynamoOrderStatusSource(new DynamoDBClient({}), requireEnv(env, ENV.ordersTable)),
    executions: sfnExecutionReader(sfn, stateMachineArn),
    workflow: sfnWorkflowClient(sfn, stateMachineArn),
    compensator: lambdaCompensator(new LambdaClient({}), compensateFunction),
    stuckAfterSeconds: intEnv(env, ENV.stuckAfterSeconds),
    now: () => new Date(),
    log: createLogger({ fn: "sweep_orders" }),
  });
}
