import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { SNSClient } from "@aws-sdk/client-sns";
import { domainError } from "./shared/errors";
import { createLogger, type Logger } from "./shared/log";
import { orderMetric } from "./shared/metrics";
import { snsNotifier, type Notice, type Notifier } from "./shared/notifier";
import { dynamoOrderStore, type OrderStore } from "./shared/orderStore";
import { buildNotifyInputSchema, parseOrThrow } from "./shared/schema";
import { ENV, requireEnv, type Env } from "./shared/settings";
import { transitionOrder } from "./shared/status";
import type { NotifyInput, Order } from "./shared/types";

export interface SendNotificationDeps {
  orders: OrderStore;
  notifier: Notifier;
  now: () => string;
  log: Logger;
}

export interface NotifyResult {
  orderId: string;
  messageId: string;
}

/** SMS bodies longer than this are split and billed per part: the notice stays within one. */
export const SMS_MAX = 140;

export function formatMoney(cents: number, currency: string): string {
  const sign = cents < 0 ? "-" : "";
  const abs = Math.abs(cents);
  return `${sign}${currency} ${Math.floor(abs / 100)}.${String(abs % 100).padStart(2, "0")}`;
}

/**
 * The completion notice. No customer data (every subscriber of the topic gets the message),
 * amounts from the stored order (catalogue prices), one body per protocol.
 */
export function buildCompletionNotice(order: Order): Notice {
  const { currency } = order.total;
  const total = formatMoney(order.total.amount, currency);
  const units = order.items.reduce((n, i) => n + i.quantity, 0);
  const lines = order.items.map(
    (i) =>
      `  ${i.quantity} x ${i.sku} @ ${formatMoney(i.unitPrice, currency)} = ${formatMoney(i.unitPrice * i.quantity, currency)}`,
  );
  const email = [
    `Your order ${order.orderId} is complete.`,
    "",
    "Items:",
    ...lines,
    "",
    `Total: ${total}`,
    ...(order.chargeId ? [`Payment reference: ${order.chargeId}`] : []),
  ].join("\n");
  // At most 87 characters (a 36-character id, 5000 units, a total of 2^53 cents): one SMS part,
  // with no need to cut it (the spec checks the longest case against SMS_MAX).
  const sms = `Order ${order.orderId} complete: ${units} item${units === 1 ? "" : "s"}, ${total}.`;
  return {
    // SNS: at most 100 printable ASCII characters, no line breaks.
    subject: `Order ${order.orderId} completed`,
    default: JSON.stringify({
      type: "OrderCompleted",
      orderId: order.orderId,
      status: order.status,
      items: order.items.map(({ sku, quantity, unitPrice }) => ({ sku, quantity, unitPrice })),
      total: order.total,
    }),
    email,
    sms,
    attributes: { orderId: order.orderId, status: order.status },
  };
}

/**
 * send_notification: PAID -> COMPLETED, then one SNS message, then `notifiedAt`.
 * A retried invocation finds `notifiedAt` and does not publish again; only a crash between
 * Publish and the write can repeat the message, which SNS standard topics allow anyway
 * (at-least-once delivery), so subscribers must tolerate a duplicate.
 */
export function sendNotificationHandler(
  deps: SendNotificationDeps,
): (input: NotifyInput) => Promise<NotifyResult> {
  const schema = buildNotifyInputSchema();
  return async (input) => {
    const { orderId } = parseOrThrow(schema, input, "notify input", deps.log).order;
    const log = deps.log.child({ orderId });

    const completed = await transitionOrder(deps.orders, orderId, "COMPLETED", { updatedAt: deps.now() });
    if (completed.outcome === "rejected") {
      if (!completed.order) throw domainError("NotFound", `order ${orderId} not found`);
      log.error("order cannot complete", { status: completed.order.status });
      throw domainError(
        "InvalidTransition",
        `order ${orderId} is ${completed.order.status}, cannot complete`,
      );
    }
    const order = completed.order;
    if (order.notifiedAt) {
      log.info("already notified", { notifiedAt: order.notifiedAt });
      return { orderId, messageId: order.notificationId ?? "" };
    }

    const messageId = await deps.notifier.publish(buildCompletionNotice(order));
    if (!(await deps.orders.markNotified(orderId, deps.now(), messageId))) {
      // That invocation recorded the notice and counted the order.
      log.warn("a concurrent invocation notified too", { messageId });
    } else {
      // Counted once per order: only the invocation that recorded the notice.
      log.info("customer notified", { messageId, ...orderMetric("OrdersCompleted") });
    }
    return { orderId, messageId };
  };
}

export function sendNotificationFromEnv(env: Env = process.env) {
  return sendNotificationHandler({
    orders: dynamoOrderStore(new DynamoDBClient({}), requireEnv(env, ENV.ordersTable)),
    notifier: snsNotifier(new SNSClient({}), requireEnv(env, ENV.topicArn)),
    now: () => new Date().toISOString(),
    log: createLogger({ fn: "send_notification" }),
  });
}
