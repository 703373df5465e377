import * as v from "valibot";
import { DynamoDBClient, ScanCommand } from "@aws-sdk/client-dynamodb";
import { LambdaClient } from "@aws-sdk/client-lambda";
import { DescribeExecutionCommand, SFNClient } from "@aws-sdk/client-sfn";
import { unmarshall } from "@aws-sdk/util-dynamodb";
import { domainError, errorName, namedError } from "./shared/errors";
import { lambdaInventoryClient, type InventoryClient } from "./shared/inventoryClient";
import { invokeOrThrow } from "./shared/lambdaInvoke";
import { dynamoLedgerStore, type LedgerStore } from "./shared/ledger";
import { createLogger, type Logger } from "./shared/log";
import { orderMetric } from "./shared/metrics";
import { lineItems, toWorkflowOrder } from "./shared/order";
import { dynamoOrderStatusSource, type ListedOrder, type OrderStatusSource } from "./shared/orderStore";
import { ENV, intEnv, requireEnv, type Env } from "./shared/settings";
import { timeBudget, type TimeContext } from "./shared/timeBudget";
import {
  ORDER_STATUSES,
  TERMINAL_STATUSES,
  type CompensateInput,
  type CompensateResult,
  type LineItem,
  type NotifyInput,
  type Order,
  type OrderStatus,
  type WorkflowInput,
} from "./shared/types";
import { sfnWorkflowClient, type WorkflowClient } from "./shared/workflowClient";

/** Statuses an order leaves only through its workflow execution. */
export const NON_TERMINAL: readonly OrderStatus[] = ORDER_STATUSES.filter(
  (s) => !TERMINAL_STATUSES.includes(s),
);

/**
 * How far back (by createdAt) the sweeper looks for FAILED orders that may still hold a charge:
 * an execution lasts at most the callback timeout + 3600 s (workflow/definition.ts), and a late
 * charge can only land while process_payment still holds the order it read before FAILED.
 */
export const LOOKBACK_EXTRA_SECONDS = 2 * 3600;

// ---- ports ------------------------------------------------------------------------------------

/** The byStatus index over every shard, and the base table (orderStore's dynamoOrderStatusSource). */
export type SweepOrderSource = OrderStatusSource;

/** A reservation marker on a SKU item (inventoryStore.ts): `orderId` holds `quantity` of `sku`. */
export interface HeldReservation {
  sku: string;
  orderId: string;
  quantity: number;
}

export interface ReservationSource {
  /** Every reservation marker in the inventory table (the catalogue is small: one Scan). */
  held(): Promise<HeldReservation[]>;
}

export type ExecutionStatus =
  "RUNNING" | "SUCCEEDED" | "FAILED" | "TIMED_OUT" | "ABORTED" | "PENDING_REDRIVE";

export interface ExecutionReader {
  /** The order's execution (name = orderId), or undefined when none was ever started. */
  describe(orderId: string): Promise<{ status: ExecutionStatus; error?: string } | undefined>;
}

export interface Compensator {
  compensate(input: CompensateInput): Promise<CompensateResult>;
}

export interface Completer {
  /** send_notification: PAID -> COMPLETED and the notice, idempotent (the workflow's NotifyCustomer). */
  complete(input: NotifyInput): Promise<void>;
}

export interface SweepOrdersDeps {
  orders: SweepOrderSource;
  /** The payments table: which of CHARGE / REFUND exist for an order. */
  ledger: Pick<LedgerStore, "get">;
  reservations: ReservationSource;
  /** update_inventory: `commit` of a completed order's markers. */
  inventory: InventoryClient;
  executions: ExecutionReader;
  workflow: Pick<WorkflowClient, "start">;
  compensator: Compensator;
  completer: Completer;
  /** Age after which a non-terminal order is stuck: callback timeout + margin. */
  stuckAfterSeconds: number;
  now: () => Date;
  log: Logger;
  /**
   * Upper bound on actions taken per run (started, completed, compensated, committed): the rest
   * wait for the next run. Orders left alone (running, needsAttention, retry) do not count, so
   * old ones that nothing can settle never stop a run from reaching newer ones. @default 100
   */
  maxOrdersPerRun?: number;
  /**
   * No new order is started once the Lambda context has less than this left: the slowest step
   * (a synchronous compensate_order, 20 s timeout, after four reads) must still fit. @default 30000
   */
  reserveMs?: number;
}

/** Actions that changed something: the only ones `maxOrders` counts. */
export const SWEEP_EFFECTS: readonly SweepAction[] = ["started", "completed", "compensated", "committed"];

export type SweepAction =
  /** No live execution and nothing decided yet: the workflow is started (again), named after the order. */
  | "started"
  /** The execution is still running: it is bounded by its own timeout, nothing to do. */
  | "running"
  /** PAID with its charge recorded: the reservation is committed and the order completed (notified). */
  | "completed"
  /** The execution ended without settling the order, or a FAILED order still holds a charge or stock: compensated. */
  | "compensated"
  /** A COMPLETED order still held reservation markers: committed (the stock stays sold). */
  | "committed"
  /**
   * A step failed (see `why`): nothing is lost, the next run tries again. Not a contradiction, so
   * not counted in OrdersNeedingAttention; the failing function's own Errors alarm reports it.
   */
  | "retry"
  /** The records contradict each other (see `why`): left alone, counted in OrdersNeedingAttention. */
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
  /** True when more orders were left for the next run (action cap or time budget reached). */
  truncated: boolean;
}

/**
 * sweep_orders settles what no execution will settle any more. Two passes:
 *
 * 1. Every order NEW, PROCESSING or PAID for longer than the callback timeout + margin, decided
 *    from its execution, the ledger (CHARGE / REFUND) and the order itself (docs/operations.md
 *    has the same table):
 *
 *    | execution                  | order and ledger                            | action          |
 *    |----------------------------|---------------------------------------------|-----------------|
 *    | RUNNING / PENDING_REDRIVE  | any                                         | running (none)  |
 *    | SUCCEEDED                  | not terminal                                | needsAttention  |
 *    | none or ended              | a REFUND recorded (refunds follow FAILED)   | needsAttention  |
 *    | none or ended              | PAID, no CHARGE or another chargeId         | needsAttention  |
 *    | none or ended              | PAID, its CHARGE recorded                   | completed       |
 *    | none ever started          | NEW / PROCESSING                            | started         |
 *    | FAILED, TIMED_OUT, ABORTED | NEW / PROCESSING                            | compensated     |
 *
 *    A PAID order is completed, not refunded: the customer paid and the stock is reserved, which
 *    is exactly what the workflow's NotifyCustomer step needs. Its markers are committed first,
 *    so a crash in between leaves a PAID order without markers that the next run completes.
 *    Restarting (NEW / PROCESSING) runs process_payment again, which reuses a recorded charge
 *    and a held reservation instead of taking them twice.
 *
 * 2. Loose ends on terminal orders, left when a payment attempt died between two writes:
 *    - a reservation marker held by a COMPLETED order: committed;
 *    - a reservation marker, or a CHARGE without a REFUND, on a FAILED order: compensate_order
 *      again (idempotent: it refunds and restocks only what is still there);
 *    - a marker held by an order that does not exist: needsAttention.
 *
 * Every action is one of the idempotent steps the workflow itself runs, so two sweeps, or a
 * sweep beside a late process_payment delivery or a running compensation, do no more than one.
 *
 * The event is EventBridge's scheduled event; an operator (or the offline runtime at start-up)
 * may invoke it with `{"olderThanSeconds": N, "lookbackSeconds": M, "maxOrders": K}` to sweep
 * younger orders now, look further back for FAILED orders with a charge, and act on more orders
 * in one run.
 *
 * Each order's step is caught on its own: a throw (a throttled read, a failed StartExecution)
 * is that order's `retry` and the run goes on. A run ends early (`truncated`) after `maxOrders`
 * actions or when the Lambda's remaining time falls below `reserveMs`; every run starts from the
 * oldest order again, so what one run leaves the next one reaches.
 */
export function sweepOrdersHandler(
  deps: SweepOrdersDeps,
): (event?: unknown, context?: TimeContext) => Promise<SweepReport> {
  const seconds = v.optional(v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(366 * 86_400)));
  const eventSchema = v.object({
    olderThanSeconds: seconds,
    lookbackSeconds: seconds,
    maxOrders: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(100_000))),
  });

  const entryFor = (order: Pick<Order, "orderId" | "status">) => {
    const { orderId, status } = order;
    const log = deps.log.child({ orderId, status });
    return (action: SweepAction, extra: Partial<SweepEntry> = {}): SweepEntry => {
      (action === "needsAttention" || action === "retry" ? log.warn : log.info)("swept order", {
        ...extra,
        action,
      });
      return { orderId, status, action, ...extra };
    };
  };

  const compensate = async (
    order: Pick<Order, "orderId" | "status" | "items" | "total">,
    entry: ReturnType<typeof entryFor>,
    cause: string,
    base: Partial<SweepEntry> = {},
  ): Promise<SweepEntry> => {
    try {
      await deps.compensator.compensate({
        order: toWorkflowOrder(order),
        error: { Error: "States.Timeout", Cause: `orderflow sweeper: ${cause}` },
      });
      return entry("compensated", base);
    } catch (e) {
      deps.log.error("compensation failed", { orderId: order.orderId, error: e });
      return entry("retry", { ...base, why: `compensation failed: ${errorName(e)}` });
    }
  };

  /** Pass 1: one non-terminal order past the threshold. */
  const settle = async (listed: ListedOrder): Promise<SweepEntry | undefined> => {
    const execution = await deps.executions.describe(listed.orderId);
    const base: Partial<SweepEntry> = execution ? { execution: execution.status } : {};
    if (execution?.status === "RUNNING" || execution?.status === "PENDING_REDRIVE")
      return entryFor(listed)("running", base);
    // Decide on the order as it is now, read after the execution: the index is eventually
    // consistent and the order may have moved on since the page was read.
    const order = await deps.orders.get(listed.orderId);
    if (!order || TERMINAL_STATUSES.includes(order.status)) return undefined;
    const { orderId, status } = order;
    const entry = entryFor(order);
    if (execution?.status === "SUCCEEDED")
      return entry("needsAttention", { ...base, why: `execution SUCCEEDED but the order is ${status}` });

    const charge = await deps.ledger.get(orderId, "CHARGE");
    if (await deps.ledger.get(orderId, "REFUND"))
      return entry("needsAttention", { ...base, why: `${status} with a recorded REFUND` });

    if (status === "PAID") {
      if (!charge || charge.chargeId !== order.chargeId) {
        return entry("needsAttention", {
          ...base,
          why: `PAID (chargeId ${order.chargeId ?? "none"}) without a matching CHARGE (${charge?.chargeId ?? "none"})`,
        });
      }
      try {
        // Commit before completing: a COMPLETED order must hold no markers, and a PAID one
        // without markers is still completed by the next run.
        await deps.inventory.invoke({ action: "commit", orderId, items: lineItems(order.items) });
        await deps.completer.complete({
          order: toWorkflowOrder(order),
          payment: { orderId, chargeId: charge.chargeId, amount: charge.amount },
        });
        return entry("completed", base);
      } catch (e) {
        deps.log.error("completion failed", { orderId, error: e });
        return entry("retry", { ...base, why: `completion failed: ${errorName(e)}` });
      }
    }

    if (!execution) {
      const input: WorkflowInput = { order: toWorkflowOrder(order) };
      const started = await deps.workflow.start(orderId, input);
      return entry(started === "started" ? "started" : "running", base);
    }
    const ended = `execution ${execution.status}${execution.error ? ` (${execution.error})` : ""} left the order ${status}`;
    return compensate(order, entry, ended, base);
  };

  /** Pass 2a: reservation markers whose order is terminal (or missing). */
  const settleMarkers = async (orderId: string, held: HeldReservation[]): Promise<SweepEntry | undefined> => {
    const order = await deps.orders.get(orderId);
    if (!order) {
      return entryFor({ orderId, status: "FAILED" })("needsAttention", {
        why: `reservation on ${held.map((h) => h.sku).join(", ")} held by an unknown order`,
      });
    }
    const entry = entryFor(order);
    if (order.status === "COMPLETED") {
      const items: LineItem[] = held.map(({ sku, quantity }) => ({ sku, quantity }));
      try {
        await deps.inventory.invoke({ action: "commit", orderId, items });
      } catch (e) {
        deps.log.error("commit failed", { orderId, error: e });
        return entry("retry", { why: `commit failed: ${errorName(e)}` });
      }
      return entry("committed");
    }
    if (order.status === "FAILED") return compensate(order, entry, "FAILED order still held stock");
    return undefined; // In flight: its execution, or pass 1, settles it.
  };

  /** Pass 2b: a FAILED order whose failure says "not refunded" while the ledger holds a charge. */
  const settleCharge = async (listed: ListedOrder): Promise<SweepEntry | undefined> => {
    if (listed.failure?.refunded) return undefined;
    const charge = await deps.ledger.get(listed.orderId, "CHARGE");
    if (!charge || (await deps.ledger.get(listed.orderId, "REFUND"))) return undefined;
    return compensate(listed, entryFor(listed), "FAILED order still held a charge");
  };

  /** One order's step: a throw is that order's `retry`, so the orders after it still run. */
  const guarded =
    <T extends Pick<Order, "orderId" | "status">>(
      step: string,
      each: (item: T) => Promise<SweepEntry | undefined>,
    ) =>
    async (item: T): Promise<SweepEntry | undefined> => {
      try {
        return await each(item);
      } catch (e) {
        deps.log.error(`${step} failed`, { orderId: item.orderId, error: e });
        return entryFor(item)("retry", { why: `${step} failed: ${errorName(e)}` });
      }
    };

  const reserveMs = deps.reserveMs ?? 30_000;

  return async (event, context) => {
    const parsed = v.safeParse(eventSchema, typeof event === "object" && event !== null ? event : {});
    const olderThanSeconds =
      (parsed.success ? parsed.output.olderThanSeconds : undefined) ?? deps.stuckAfterSeconds;
    const lookbackSeconds =
      (parsed.success ? parsed.output.lookbackSeconds : undefined) ??
      deps.stuckAfterSeconds + LOOKBACK_EXTRA_SECONDS;
    const max = (parsed.success ? parsed.output.maxOrders : undefined) ?? deps.maxOrdersPerRun ?? 100;
    const now = deps.now().getTime();
    const before = new Date(now - olderThanSeconds * 1000).toISOString();
    const after = new Date(now - lookbackSeconds * 1000).toISOString();

    const counts = await Promise.all(NON_TERMINAL.map((status) => deps.orders.count(status)));
    const inFlight = counts.reduce((a, b) => a + b, 0);
    deps.log.info("orders in flight", { inFlight, ...orderMetric("OrdersInFlight", inFlight) });

    const entries: SweepEntry[] = [];
    let effects = 0;
    // Latched: once the cap or the budget stops the run, no later order starts.
    let truncated = false;
    const hasTime = timeBudget(context, reserveMs);
    const full = () => (truncated ||= effects >= max || !hasTime());
    const record = (e: SweepEntry | undefined) => {
      if (!e) return;
      entries.push(e);
      if (SWEEP_EFFECTS.includes(e.action)) effects += 1;
    };
    const pages = async (
      list: (startKey?: Record<string, unknown>) => ReturnType<SweepOrderSource["createdBefore"]>,
      each: (order: ListedOrder) => Promise<SweepEntry | undefined>,
    ) => {
      let startKey: Record<string, unknown> | undefined;
      do {
        const page = await list(startKey);
        for (const order of page.items) {
          if (full()) return;
          record(await each(order));
        }
        startKey = page.lastKey;
      } while (startKey);
    };

    const settleListed = guarded("settling the order", settle);
    for (const status of NON_TERMINAL) {
      if (!full()) await pages((k) => deps.orders.createdBefore(status, before, k), settleListed);
    }
    if (!full()) {
      const byOrder = new Map<string, HeldReservation[]>();
      for (const h of await deps.reservations.held())
        byOrder.set(h.orderId, [...(byOrder.get(h.orderId) ?? []), h]);
      // A marker's order is unknown until read: when it is missing, or reading it fails, the
      // entry says FAILED (what an order holding a marker past its run should be).
      const settleHeld = guarded("settling the markers", (o: { orderId: string; status: OrderStatus }) =>
        settleMarkers(o.orderId, byOrder.get(o.orderId) ?? []),
      );
      for (const orderId of byOrder.keys()) {
        if (full()) break;
        record(await settleHeld({ orderId, status: "FAILED" }));
      }
    }
    if (!full()) {
      await pages(
        (k) => deps.orders.createdAfter("FAILED", after, k),
        guarded("checking the charge", settleCharge),
      );
    }

    const attention = entries.filter((e) => e.action === "needsAttention").length;
    deps.log.info("sweep finished", {
      olderThanSeconds,
      lookbackSeconds,
      swept: entries.length,
      actions: effects,
      truncated,
      ...orderMetric("OrdersNeedingAttention", attention),
    });
    return { olderThanSeconds, inFlight, entries, truncated };
  };
}

// ---- adapters ---------------------------------------------------------------------------------

/** The reservation markers of every SKU: a paged Scan of `sku, reservations`. */
export function dynamoReservationSource(client: DynamoDBClient, tableName: string): ReservationSource {
  return {
    async held() {
      const held: HeldReservation[] = [];
      let startKey: Record<string, unknown> | undefined;
      do {
        const out = await client.send(
          new ScanCommand({
            TableName: tableName,
            ProjectionExpression: "sku, reservations",
            ExclusiveStartKey: startKey as never,
          }),
        );
        for (const item of out.Items ?? []) {
          const { sku, reservations } = unmarshall(item) as {
            sku: string;
            reservations?: Record<string, number>;
          };
          for (const [orderId, quantity] of Object.entries(reservations ?? {}))
            held.push({ sku, orderId, quantity });
        }
        startKey = out.LastEvaluatedKey as Record<string, unknown> | undefined;
      } while (startKey);
      return held;
    },
  };
}

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
      const { payload, text } = await invokeOrThrow(client, functionName, input, "compensate_order");
      if (typeof payload !== "object" || payload === null) {
        throw namedError("FunctionError", `compensate_order returned no result: ${text.slice(0, 500)}`);
      }
      return payload as CompensateResult;
    },
  };
}

/** send_notification, invoked synchronously (the same function the workflow's NotifyCustomer runs). */
export function lambdaCompleter(client: LambdaClient, functionName: string): Completer {
  return {
    async complete(input) {
      await invokeOrThrow(client, functionName, input, "send_notification");
    },
  };
}

export function sweepOrdersFromEnv(env: Env = process.env) {
  const stateMachineArn = requireEnv(env, ENV.stateMachineArn);
  const compensateFunction = requireEnv(env, ENV.compensateFunction);
  const notifyFunction = requireEnv(env, ENV.notifyFunction);
  const inventoryFunction = requireEnv(env, ENV.inventoryFunction);
  const sfn = new SFNClient({});
  const dynamo = new DynamoDBClient({});
  const lambda = new LambdaClient({});
  return sweepOrdersHandler({
    orders: dynamoOrderStatusSource(dynamo, requireEnv(env, ENV.ordersTable)),
    ledger: dynamoLedgerStore(dynamo, requireEnv(env, ENV.paymentsTable)),
    reservations: dynamoReservationSource(dynamo, requireEnv(env, ENV.inventoryTable)),
    inventory: lambdaInventoryClient(lambda, inventoryFunction),
    executions: sfnExecutionReader(sfn, stateMachineArn),
    workflow: sfnWorkflowClient(sfn, stateMachineArn),
    compensator: lambdaCompensator(lambda, compensateFunction),
    completer: lambdaCompleter(lambda, notifyFunction),
    stuckAfterSeconds: intEnv(env, ENV.stuckAfterSeconds),
    now: () => new Date(),
    log: createLogger({ fn: "sweep_orders" }),
  });
}
