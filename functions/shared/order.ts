import type { LineItem, Order, OrderView, WorkflowOrder } from "./types";

/**
 * What the API shows of an order (§8): never the customer or the payment token. Reads only what
 * the listing indexes project too (orderStore's ListedOrder), so a listed order renders the same.
 */
export function toOrderView(
  order: Omit<Order, "customer" | "paymentToken" | "requestHash" | "entity">,
): OrderView {
  const view: OrderView = {
    orderId: order.orderId,
    status: order.status,
    items: order.items.map(({ sku, quantity, unitPrice }) => ({ sku, quantity, unitPrice })),
    total: { amount: order.total.amount, currency: order.total.currency },
    createdAt: order.createdAt,
    updatedAt: order.updatedAt,
  };
  if (order.failure) {
    const { reason, refunded, restocked, compensatedAt } = order.failure;
    view.failure = { reason, refunded, restocked, ...(compensatedAt ? { compensatedAt } : {}) };
  }
  return view;
}

/** The summary the workflow carries (no customer data, no payment token). */
export function toWorkflowOrder(order: Pick<Order, "orderId" | "items" | "total">): WorkflowOrder {
  return {
    orderId: order.orderId,
    items: lineItems(order.items),
    total: { amount: order.total.amount, currency: order.total.currency },
  };
}

/** Just `{sku, quantity}` of each line (no price): what update_inventory is sent. */
export function lineItems(items: readonly LineItem[]): LineItem[] {
  return items.map(({ sku, quantity }) => ({ sku, quantity }));
}
