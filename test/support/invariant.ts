/**
 * The invariant of issue 12 once every order has settled, over the three tables (the offline
 * system's, read by crash.spec.ts; the in-memory fakes, by sweepOrders.spec.ts): every order
 * terminal, charges - refunds = COMPLETED totals, one CHARGE per order and it is the order's own,
 * a FAILED order's refunded flag matches the ledger, stock + sold = seed, no reservation left.
 */
import type { LedgerEntry } from "../../functions/shared/ledger";
import type { Order } from "../../functions/shared/types";

export interface Tables {
  orders: Order[];
  ledger: LedgerEntry[];
  stock: { sku: string; stock: number; reservations?: Record<string, number> }[];
}

/**
 * The invariant, from the tables: every problem as one line (empty: it holds).
 * `seed`: stock per SKU before any order; `accepted`: every order a client got a 201 for.
 */
export function violations(
  t: Tables,
  seed: Record<string, number>,
  accepted: ReadonlySet<string> = new Set(),
): string[] {
  const problems: string[] = [];
  const byId = new Map(t.orders.map((o) => [o.orderId, o]));
  for (const id of accepted) if (!byId.has(id)) problems.push(`accepted order ${id} is not in the table`);
  for (const o of t.orders)
    if (o.status !== "COMPLETED" && o.status !== "FAILED") problems.push(`${o.orderId} is ${o.status}`);

  const entries = (kind: string) => t.ledger.filter((e) => e.entry === kind);
  const perOrder = new Map<string, string[]>();
  for (const e of t.ledger) perOrder.set(e.orderId, [...(perOrder.get(e.orderId) ?? []), e.entry]);
  for (const [id, kinds] of perOrder) {
    for (const kind of ["CHARGE", "REFUND"])
      if (kinds.filter((k) => k === kind).length > 1) problems.push(`${id} has ${kind} twice`);
    const o = byId.get(id);
    if (kinds.includes("CHARGE") && o?.status === "COMPLETED" && kinds.includes("REFUND"))
      problems.push(`${id} is COMPLETED and refunded`);
    if (kinds.includes("CHARGE") && o?.status === "FAILED" && !kinds.includes("REFUND"))
      problems.push(`${id} is FAILED and still charged`);
  }
  const sum = (kind: string) => entries(kind).reduce((n, e) => n + e.amount, 0);
  const completed = t.orders.filter((o) => o.status === "COMPLETED");
  const totals = completed.reduce((n, o) => n + o.total.amount, 0);
  if (sum("CHARGE") - sum("REFUND") !== totals)
    problems.push(`charges ${sum("CHARGE")} - refunds ${sum("REFUND")} != COMPLETED totals ${totals}`);
  for (const o of completed) {
    const charge = t.ledger.find((e) => e.orderId === o.orderId && e.entry === "CHARGE");
    if (
      !charge ||
      charge.entry !== "CHARGE" ||
      charge.chargeId !== o.chargeId ||
      charge.amount !== o.total.amount
    )
      problems.push(`${o.orderId} COMPLETED without its own charge`);
  }
  for (const o of t.orders.filter((x) => x.status === "FAILED")) {
    if (!o.failure) problems.push(`${o.orderId} FAILED without a failure record`);
    else if (o.failure.refunded !== (perOrder.get(o.orderId) ?? []).includes("REFUND"))
      problems.push(`${o.orderId} failure.refunded=${o.failure.refunded} disagrees with the ledger`);
  }

  for (const [sku, initial] of Object.entries(seed)) {
    const record = t.stock.find((s) => s.sku === sku);
    const sold = completed
      .flatMap((o) => o.items)
      .filter((i) => i.sku === sku)
      .reduce((n, i) => n + i.quantity, 0);
    if (!record) problems.push(`${sku} vanished`);
    else if (record.stock + sold !== initial)
      problems.push(`${sku}: stock ${record.stock} + sold ${sold} != seed ${initial}`);
    for (const holder of Object.keys(record?.reservations ?? {})) {
      const o = byId.get(holder);
      problems.push(`${sku} still reserved for ${holder} (${o?.status ?? "unknown order"})`);
    }
  }
  return problems;
}
