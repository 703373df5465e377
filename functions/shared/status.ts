import type { Order, OrderFailure, OrderStatus } from "./types";
import type { OrderStore } from "./orderStore";

/**
 * The order's status machine. For each target status, the statuses it may be reached from;
 * the orders adapter enforces it with a conditional UpdateItem (`#status IN (:from...)`).
 *
 * PAID -> FAILED exists only for compensation after the callback timed out once the charge had
 * gone through (process_payment marked the order PAID but its SendTaskSuccess came too late);
 * compensation then refunds. COMPLETED is final: a notified order is never undone.
 */
export const ALLOWED_FROM: Readonly<Record<OrderStatus, readonly OrderStatus[]>> = {
  NEW: [],
  PROCESSING: ["NEW"],
  PAID: ["PROCESSING"],
  COMPLETED: ["PAID"],
  FAILED: ["NEW", "PROCESSING", "PAID"],
};

export interface TransitionChanges {
  updatedAt: string;
  chargeId?: string;
  failure?: OrderFailure;
}

export type TransitionResult =
  /** The status changed now; `order` is the stored order after the change. */
  | { outcome: "applied"; order: Order }
  /** The order already had the target status: nothing written (repeating is a no-op). */
  | { outcome: "unchanged"; order: Order }
  /** Not allowed from the current status (`order`), or there is no such order. */
  | { outcome: "rejected"; order: Order | undefined };

/**
 * Moves an order to `to` if its current status allows it. One conditional write; only when
 * the condition fails, one consistent read tells "already there" from "not allowed".
 */
export async function transitionOrder(
  store: OrderStore,
  orderId: string,
  to: OrderStatus,
  changes: TransitionChanges,
): Promise<TransitionResult> {
  const updated = await store.updateStatus(orderId, ALLOWED_FROM[to], to, changes);
  if (updated) return { outcome: "applied", order: updated };
  const current = await store.get(orderId, { consistent: true });
  if (current && current.status === to) return { outcome: "unchanged", order: current };
  return { outcome: "rejected", order: current };
}
