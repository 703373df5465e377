import type { InventoryClient } from "./inventoryClient";
import type { Ledger } from "./ledger";
import type { OrderStore } from "./orderStore";
import type { LineItem, Order } from "./types";

export interface UndoDeps {
  orders: OrderStore;
  ledger: Ledger;
  inventory: InventoryClient;
  now: () => string;
}

export interface UndoOutcome {
  /** A charge existed and is refunded (now or earlier). */
  refunded: boolean;
  /** This call issued the refund. */
  refundedNow: boolean;
  /** Stock reserved for the order was given back by this call. */
  restocked: boolean;
  /** The stored order after the flags were merged (`stored` when nothing was written). */
  order: Order | undefined;
}

/**
 * Undoes what the order's payment step did: refund (once, only if charged) and release the
 * order's stock (only what its reservation markers hold). Both are idempotent, so compensation
 * and process_payment may run this side by side. Then, for a FAILED `stored` order, the flags
 * that turned true are written (they only ever turn true: concurrent runs only add facts).
 * Every move to FAILED writes a `failure` record (transitionOrder(..., "FAILED", { failure })),
 * so a FAILED order always has one.
 */
export async function undoOrderEffects(
  deps: UndoDeps,
  orderId: string,
  items: readonly LineItem[],
  stored: Order | undefined,
  /** compensate_order: also record that compensation finished (`failure.compensatedAt`), in the same write. */
  options: { finished?: boolean } = {},
): Promise<UndoOutcome> {
  const refund = await deps.ledger.refundOnce(orderId);
  const release = await deps.inventory.invoke({ action: "release", orderId, items: [...items] });
  let order = stored;
  if (stored?.failure) {
    const flags: { refunded?: true; restocked?: true; compensatedAt?: string } = {};
    if (refund.refunded && !stored.failure.refunded) flags.refunded = true;
    if (release.released && !stored.failure.restocked) flags.restocked = true;
    if (options.finished && !stored.failure.compensatedAt) flags.compensatedAt = deps.now();
    if (flags.refunded || flags.restocked || flags.compensatedAt) {
      order = (await deps.orders.setFailureFlags(orderId, flags, deps.now())) ?? stored;
    }
  }
  return { refunded: refund.refunded, refundedNow: refund.refundedNow, restocked: release.released, order };
}
