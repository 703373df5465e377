import * as v from "valibot";
import type { SQSBatchResponse, SQSEvent, SQSRecord } from "aws-lambda";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { LambdaClient } from "@aws-sdk/client-lambda";
import { SFNClient } from "@aws-sdk/client-sfn";
import { errorName, isDomainError, isStaleTaskError } from "./shared/errors";
import { lambdaInventoryClient, type InventoryClient } from "./shared/inventoryClient";
import { createLedger, dynamoLedgerStore, type Ledger } from "./shared/ledger";
import { createLogger, type Logger } from "./shared/log";
import { lineItems } from "./shared/order";
import { dynamoOrderStore, type OrderStore } from "./shared/orderStore";
import { simulatedPaymentProvider } from "./shared/payments";
import { buildPaymentMessageSchema, toIssues } from "./shared/schema";
import { ENV, intEnv, requireEnv, type Env } from "./shared/settings";
import { transitionOrder } from "./shared/status";
import { timeBudget, type TimeContext } from "./shared/timeBudget";
import { undoOrderEffects } from "./shared/undo";
import type { FailureReason, Order, PaymentResult } from "./shared/types";
import { sfnWorkflowClient, type WorkflowClient } from "./shared/workflowClient";

export interface ProcessPaymentDeps {
  orders: OrderStore;
  ledger: Ledger;
  inventory: InventoryClient;
  workflow: WorkflowClient;
  now: () => string;
  log: Logger;
  /**
   * Records of one batch in flight at once. Records of the same order run one after another
   * (a duplicate sees the first one's result); different orders run side by side. @default 1
   */
  recordConcurrency?: number;
  /**
   * Time one record may need, heartbeat to report. A record is started only while the
   * invocation has at least this much left; the rest go back as batchItemFailures unstarted,
   * instead of a function timeout returning the whole batch. @default 0 (no budget)
   */
  recordBudgetMs?: number;
}

/** Error names sent with SendTaskFailure (the workflow's Catch passes them to compensation). */
export const TASK_ERRORS = {
  orderNotFound: "OrderNotFound",
  outOfStock: "OutOfStock",
  declined: "PaymentDeclined",
} as const satisfies Record<string, FailureReason>;

type Outcome = "ack" | "retry";

/** A record with its body parsed once (`json` undefined: the body is not JSON). */
interface Received {
  record: SQSRecord;
  json?: { value: unknown };
}

interface Delivery {
  orderId: string;
  taskToken: string;
  /** The task token is no longer usable: the execution moved on (timed out, ended). */
  stale: boolean;
  log: Logger;
}

/**
 * process_payment: the SQS consumer behind the workflow's wait-for-callback step (design §5).
 * Per message: heartbeat, load the order, reserve stock, charge once, mark PAID, report back.
 *
 * Every step is safe to repeat, so redelivery after a crash anywhere, duplicate delivery and a
 * race with compensation never charge or take stock twice:
 *  - stock is reserved (idempotent per order marker) BEFORE charging: out of stock is never charged;
 *  - the ledger records the charge once and the provider's idempotency key (the order id) makes
 *    a repeated provider call return the same charge;
 *  - status changes are conditional (status.ts); an order found PAID/COMPLETED only gets its
 *    recorded outcome re-sent, one found FAILED only gets this consumer's effects undone.
 * A batch's records run `recordConcurrency` at a time, one lane per order (a duplicate later in
 * the batch sees the first's result); the ones to retry, and the ones the time budget did not
 * let start, are returned as batchItemFailures (ReportBatchItemFailures).
 */
export function processPaymentHandler(
  deps: ProcessPaymentDeps,
): (event: SQSEvent, context?: TimeContext) => Promise<SQSBatchResponse> {
  const schema = buildPaymentMessageSchema();
  const { orders, ledger, inventory, workflow } = deps;

  /** Runs a SendTask* call: true if delivered, false if the token is stale; other errors throw. */
  const tell = async (d: Delivery, call: () => Promise<void>, what: string): Promise<boolean> => {
    try {
      await call();
      return true;
    } catch (e) {
      if (!isStaleTaskError(e)) throw e;
      d.stale = true;
      d.log.info("task token no longer valid: the workflow moved on", { call: what, error: errorName(e) });
      return false;
    }
  };

  /**
   * The order is FAILED (compensation ran or is running): give back what this consumer may have
   * taken. Both calls are idempotent, so running beside compensation is safe; the failure record
   * only ever gains `true` flags.
   */
  const undoForFailedOrder = async (d: Delivery, order: Order): Promise<Outcome> => {
    const undone = await undoOrderEffects(deps, d.orderId, lineItems(order.items), order);
    d.log.info("order is FAILED: own effects undone", {
      refundedNow: undone.refundedNow,
      released: undone.restocked,
    });
    return "ack";
  };

  /**
   * After a stale token: if compensation already marked the order FAILED it may have run before
   * our effects, so undo them; otherwise compensation is still to come and will undo them.
   */
  const afterStale = async (d: Delivery): Promise<Outcome> => {
    const current = await orders.get(d.orderId, { consistent: true });
    if (current?.status === "FAILED") return undoForFailedOrder(d, current);
    d.log.info("leaving the order to compensation", { status: current?.status });
    return "ack";
  };

  const reportFailure = async (
    d: Delivery,
    error: string,
    cause: Record<string, unknown>,
  ): Promise<Outcome> => {
    d.log.info("reporting failure to the workflow", { error, ...cause });
    if (
      !d.stale &&
      (await tell(
        d,
        () => workflow.sendFailure(d.taskToken, error, JSON.stringify(cause)),
        "SendTaskFailure",
      ))
    ) {
      return "ack";
    }
    return afterStale(d);
  };

  /** PAID or COMPLETED: (re)send the recorded outcome, never charge again. */
  const reportPaid = async (d: Delivery, order: Order): Promise<Outcome> => {
    if (!order.chargeId) throw new Error(`order is ${order.status} without a chargeId`);
    const result: PaymentResult = {
      orderId: order.orderId,
      chargeId: order.chargeId,
      amount: order.total.amount,
    };
    const delivered =
      !d.stale && (await tell(d, () => workflow.sendSuccess(d.taskToken, result), "SendTaskSuccess"));
    if (!delivered && order.status !== "COMPLETED") {
      // Not committing: if the workflow timed out, compensation must still find the
      // reservation markers to restock.
      return afterStale(d);
    }
    try {
      await inventory.invoke({
        action: "commit",
        orderId: order.orderId,
        items: lineItems(order.items),
      });
    } catch (e) {
      // A marker left behind only keeps the item a little larger; the payment step is done.
      d.log.warn("commit of the reservation failed; marker left in place", { error: e });
    }
    d.log.info("payment reported", { chargeId: order.chargeId, delivered });
    return "ack";
  };

  /** FAILED, PAID or COMPLETED: nothing to start, only an outcome to report or effects to undo. */
  const settleDecided = (d: Delivery, order: Order): Promise<Outcome> =>
    order.status === "FAILED" ? undoForFailedOrder(d, order) : reportPaid(d, order);

  /** Decides from the order's current status (statuses only move forward). */
  const settle = async (d: Delivery, order: Order): Promise<Outcome> => {
    if (order.status !== "NEW" && order.status !== "PROCESSING") return settleDecided(d, order);
    if (d.stale) {
      // Compensation (after the timeout) has not marked it FAILED yet and will undo what an
      // earlier delivery did. Don't start anything now.
      d.log.info("execution gone before payment; nothing started", { status: order.status });
      return "ack";
    }
    if (order.status === "NEW") {
      const processing = await transitionOrder(orders, d.orderId, "PROCESSING", { updatedAt: deps.now() });
      if (processing.outcome === "rejected") {
        if (!processing.order) return reportFailure(d, TASK_ERRORS.orderNotFound, { orderId: d.orderId });
        // It left NEW meanwhile and is not PROCESSING (that would be "unchanged"): it is
        // FAILED, PAID or COMPLETED now.
        return settleDecided(d, processing.order);
      }
    }

    const lines = lineItems(order.items);
    const reserved = await inventory.invoke({ action: "reserve", orderId: d.orderId, items: lines });
    if (!reserved.ok)
      return reportFailure(d, TASK_ERRORS.outOfStock, { orderId: d.orderId, skus: reserved.skus });

    const charge = await ledger.chargeOnce(order);
    if (charge.status === "DECLINED") {
      return reportFailure(d, TASK_ERRORS.declined, { orderId: d.orderId, reason: charge.reason });
    }

    const paid = await transitionOrder(orders, d.orderId, "PAID", {
      updatedAt: deps.now(),
      chargeId: charge.chargeId,
    });
    if (paid.outcome === "rejected") {
      if (paid.order?.status === "FAILED") {
        d.log.warn("order failed (compensation) while being charged: undoing");
        return undoForFailedOrder(d, paid.order);
      }
      if (paid.order?.status === "COMPLETED") return reportPaid(d, paid.order);
      d.log.error("cannot mark the order PAID", { status: paid.order?.status });
      return "retry";
    }
    return reportPaid(d, paid.order);
  };

  const processRecord = async ({ record, json }: Received): Promise<Outcome> => {
    let log = deps.log.child({
      messageId: record.messageId,
      receiveCount: record.attributes?.ApproximateReceiveCount,
    });
    if (!json) {
      log.error("malformed payment message: not JSON");
      return "retry";
    }
    const parsed = v.safeParse(schema, json.value);
    if (!parsed.success) {
      // The body holds a task token: log where it is wrong, never the body.
      log.error("malformed payment message", { issues: toIssues(parsed.issues) });
      return "retry";
    }
    const { order: summary, taskToken } = parsed.output;
    log = log.child({ orderId: summary.orderId });
    const d: Delivery = { orderId: summary.orderId, taskToken, stale: false, log };
    try {
      // First, so the wait state's HeartbeatSeconds is met on every (re)delivery.
      await tell(d, () => workflow.heartbeat(taskToken), "SendTaskHeartbeat");
      const order = await orders.get(summary.orderId, { consistent: true });
      if (!order) {
        return d.stale ? "ack" : reportFailure(d, TASK_ERRORS.orderNotFound, { orderId: summary.orderId });
      }
      return await settle(d, order);
    } catch (e) {
      if (isDomainError(e, "TransientPaymentError"))
        log.warn("payment failed transiently: will retry", { error: e });
      else log.error("payment processing failed: will retry", { error: e });
      return "retry";
    }
  };

  const concurrency = Math.max(1, deps.recordConcurrency ?? 1);
  const budgetMs = deps.recordBudgetMs ?? 0;

  return async (event, context) => {
    const retry = new Set<string>();
    const unstarted: string[] = [];
    const lanes = [...lanesByOrder(event.Records).values()];
    // Shared by the workers: once a record cannot start, no later one in any lane may.
    const canStart = timeBudget(context, budgetMs);
    const worker = async () => {
      for (let lane = lanes.shift(); lane; lane = lanes.shift()) {
        for (const received of lane) {
          const id = received.record.messageId;
          if (!canStart()) unstarted.push(id);
          else if ((await processRecord(received)) === "retry") retry.add(id);
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, lanes.length) }, worker));
    if (unstarted.length > 0) {
      deps.log.warn("time budget: records returned unstarted", {
        unstarted: unstarted.length,
        records: event.Records.length,
        budgetMs,
      });
    }
    for (const id of unstarted) retry.add(id);
    return {
      batchItemFailures: event.Records.filter((r) => retry.has(r.messageId)).map((r) => ({
        itemIdentifier: r.messageId,
      })),
    };
  };
}

/**
 * The batch's records, each body parsed once, grouped by order id in arrival order (a record
 * whose body names no order gets a lane of its own, and is rejected in processRecord).
 */
function lanesByOrder(records: readonly SQSRecord[]): Map<string, Received[]> {
  const lanes = new Map<string, Received[]>();
  for (const record of records) {
    const received: Received = { record, json: parseBody(record.body) };
    const key = orderIdOf(received.json?.value) ?? `message:${record.messageId}`;
    const lane = lanes.get(key);
    if (lane) lane.push(received);
    else lanes.set(key, [received]);
  }
  return lanes;
}

function parseBody(body: string): { value: unknown } | undefined {
  try {
    return { value: JSON.parse(body) as unknown };
  } catch {
    return undefined;
  }
}

function orderIdOf(body: unknown): string | undefined {
  const id = (body as { order?: { orderId?: unknown } } | null | undefined)?.order?.orderId;
  return typeof id === "string" ? `order:${id}` : undefined;
}

export function processPaymentFromEnv(env: Env = process.env) {
  const dynamo = new DynamoDBClient({});
  const log = createLogger({ fn: "process_payment" });
  const now = () => new Date().toISOString();
  return processPaymentHandler({
    orders: dynamoOrderStore(dynamo, requireEnv(env, ENV.ordersTable)),
    ledger: createLedger({
      store: dynamoLedgerStore(dynamo, requireEnv(env, ENV.paymentsTable)),
      provider: simulatedPaymentProvider({ declineAboveCents: intEnv(env, ENV.paymentDeclineAboveCents) }),
      now,
      log,
    }),
    inventory: lambdaInventoryClient(new LambdaClient({}), requireEnv(env, ENV.inventoryFunction)),
    // Task-token callbacks name no state machine: this function is not given (nor allowed) one.
    workflow: sfnWorkflowClient(new SFNClient({})),
    now,
    log,
    recordConcurrency: intEnv(env, ENV.paymentRecordConcurrency),
    recordBudgetMs: intEnv(env, ENV.paymentRecordBudgetMs),
  });
}
