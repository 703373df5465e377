import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { LambdaClient } from "@aws-sdk/client-lambda";
import { domainError } from "./shared/errors";
import { lambdaInventoryClient, type InventoryClient } from "./shared/inventoryClient";
import { createLedger, dynamoLedgerStore, type Ledger } from "./shared/ledger";
import { createLogger, type Logger } from "./shared/log";
import { orderMetric } from "./shared/metrics";
import { lineItems } from "./shared/order";
import { dynamoOrderStore, type OrderStore } from "./shared/orderStore";
import { simulatedPaymentProvider } from "./shared/payments";
import { buildCompensateInputSchema, parseOrThrow } from "./shared/schema";
import { ENV, requireEnv, type Env } from "./shared/settings";
import { transitionOrder } from "./shared/status";
import { undoOrderEffects } from "./shared/undo";
import {
  FAILURE_REASONS,
  type CompensateInput,
  type CompensateResult,
  type FailureReason,
  type Order,
  type OrderFailure,
} from "./shared/types";

export interface CompensateOrderDeps {
  orders: OrderStore;
  ledger: Ledger;
  inventory: InventoryClient;
  now: () => string;
  log: Logger;
}

/** The failure reason for the error a Catch put at `$.error`. */
export function failureReason(error: string): FailureReason {
  switch (error) {
    case "States.Timeout":
    case "States.HeartbeatTimeout":
      return "Timeout";
    default:
      // The reasons process_payment reports (TASK_ERRORS) are failure reasons already.
      return (FAILURE_REASONS as readonly string[]).includes(error)
        ? (error as FailureReason)
        : "InternalError";
  }
}

/**
 * compensate_order: mark the order FAILED (with the reason), refund if it was charged, restock
 * if stock was reserved, and record what was done, with `failure.compensatedAt` once it is done
 * (the client's signal that the refund and restock are final). Idempotent: a second run refunds and
 * restocks nothing more and returns the stored result; the stored flags only ever turn true,
 * so process_payment undoing its own late effects beside us cannot erase a fact.
 *
 * The order is marked FAILED first: from then on process_payment can no longer mark it PAID and
 * undoes whatever it does after that point itself.
 *
 * A COMPLETED order is refused with `OrderCompleted`: the customer was told it succeeded and the
 * workflow never routes a completed order here, so this is a fault for an operator (the
 * execution ends in CompensationFailed), not something to undo silently.
 */
export function compensateOrderHandler(
  deps: CompensateOrderDeps,
): (input: CompensateInput) => Promise<CompensateResult> {
  const schema = buildCompensateInputSchema();
  return async (input) => {
    const { order: summary, error } = parseOrThrow(schema, input, "compensate input", deps.log);
    const orderId = summary.orderId;
    const reason = failureReason(error.Error);
    const log = deps.log.child({ orderId, reason, error: error.Error });

    const initial: OrderFailure = { reason, refunded: false, restocked: false };
    const failed = await transitionOrder(deps.orders, orderId, "FAILED", {
      updatedAt: deps.now(),
      failure: initial,
    });
    let stored: Order | undefined;
    if (failed.outcome === "rejected") {
      if (failed.order?.status === "COMPLETED") {
        log.error("refusing to compensate a completed order");
        throw domainError("OrderCompleted", `order ${orderId} is COMPLETED and is not undone`);
      }
      if (failed.order) throw domainError("InvalidTransition", `order ${orderId} is ${failed.order.status}`);
      log.warn("no such order: undoing by order id only");
    } else {
      stored = failed.order;
    }

    const undone = await undoOrderEffects(
      deps,
      orderId,
      stored ? lineItems(stored.items) : summary.items,
      stored,
      { finished: true },
    );
    // What was undone; `compensatedAt` stays on the order, for clients (the execution does not need it).
    const { compensatedAt: _done, ...failure }: OrderFailure = undone.order?.failure ?? {
      reason,
      refunded: undone.refunded,
      restocked: undone.restocked,
    };
    log.info("order compensated", {
      ...failure,
      refundedNow: undone.refundedNow,
      transition: failed.outcome,
      // Counted once per order: only the run that moved it to FAILED.
      ...(failed.outcome === "applied" ? orderMetric("OrdersFailed") : {}),
    });
    return { orderId, status: "FAILED", failure };
  };
}

export function compensateOrderFromEnv(env: Env = process.env) {
  const dynamo = new DynamoDBClient({});
  const log = createLogger({ fn: "compensate_order" });
  const now = () => new Date().toISOString();
  return compensateOrderHandler({
    orders: dynamoOrderStore(dynamo, requireEnv(env, ENV.ordersTable)),
    ledger: createLedger({
      store: dynamoLedgerStore(dynamo, requireEnv(env, ENV.paymentsTable)),
      // Refunds only: the simulator's charge limit does not apply, so this function does not
      // need PAYMENT_DECLINE_ABOVE_CENTS.
      provider: simulatedPaymentProvider({ declineAboveCents: Number.MAX_SAFE_INTEGER }),
      now,
      log,
    }),
    inventory: lambdaInventoryClient(new LambdaClient({}), requireEnv(env, ENV.inventoryFunction)),
    now,
    log,
  });
}
