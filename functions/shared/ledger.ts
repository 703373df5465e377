import { DynamoDBClient, GetItemCommand, PutItemCommand } from "@aws-sdk/client-dynamodb";
import { marshall, unmarshall } from "@aws-sdk/util-dynamodb";
import { ifConditionHolds } from "./errors";
import type { Logger } from "./log";
import type { PaymentProvider } from "./payments";
import type { Currency, Money } from "./types";

/** Entries of the payments table (key `orderId` + sort key `entry`). */
export interface ChargeEntry {
  orderId: string;
  entry: "CHARGE";
  amount: number;
  currency: Currency;
  chargeId: string;
  createdAt: string;
}
export interface RefundEntry {
  orderId: string;
  entry: "REFUND";
  amount: number;
  refundId: string;
  chargeId: string;
  createdAt: string;
}
export interface DeclineEntry {
  orderId: string;
  entry: "DECLINE";
  amount: number;
  reason: string;
  createdAt: string;
}
export type LedgerEntry = ChargeEntry | RefundEntry | DeclineEntry;
export type LedgerEntryKind = LedgerEntry["entry"];

/** The payments table. One AWS call per method. */
export interface LedgerStore {
  get<K extends LedgerEntryKind>(
    orderId: string,
    entry: K,
  ): Promise<Extract<LedgerEntry, { entry: K }> | undefined>;
  /** Conditional put; false when that entry already exists (nothing written). */
  put(entry: LedgerEntry): Promise<boolean>;
}

export function dynamoLedgerStore(client: DynamoDBClient, tableName: string): LedgerStore {
  return {
    async get(orderId, entry) {
      const out = await client.send(
        new GetItemCommand({
          TableName: tableName,
          Key: { orderId: { S: orderId }, entry: { S: entry } },
          // A stale read here could charge twice: always read the latest write.
          ConsistentRead: true,
        }),
      );
      return out.Item ? (unmarshall(out.Item) as never) : undefined;
    },
    async put(entry) {
      const out = await ifConditionHolds(
        client.send(
          new PutItemCommand({
            TableName: tableName,
            Item: marshall(entry, { removeUndefinedValues: true }),
            ConditionExpression: "attribute_not_exists(orderId)",
          }),
        ),
      );
      return out !== undefined;
    },
  };
}

export interface ChargeableOrder {
  orderId: string;
  total: Money;
  paymentToken: string;
}

export type ChargeResult =
  { status: "CHARGED"; chargeId: string; amount: number } | { status: "DECLINED"; reason: string };

export interface RefundResult {
  /** A charge existed and is refunded (now or by an earlier call). */
  refunded: boolean;
  /** This call issued the refund. */
  refundedNow: boolean;
}

export interface Ledger {
  /** Returns the recorded charge if there is one; otherwise charges and records it. */
  chargeOnce(order: ChargeableOrder): Promise<ChargeResult>;
  /** Refunds only if a CHARGE exists and no REFUND does. */
  refundOnce(orderId: string): Promise<RefundResult>;
}

/**
 * Payment idempotency: the ledger is the record of what happened, the provider call in between
 * is made idempotent by the provider's own key (the order id). A crash between the provider call
 * and the ledger write repeats the provider call on redelivery and gets the same charge back.
 */
export function createLedger(deps: {
  store: LedgerStore;
  provider: PaymentProvider;
  now: () => string;
  log: Logger;
}): Ledger {
  const { store, provider, now } = deps;
  return {
    async chargeOnce(order) {
      const log = deps.log.child({ orderId: order.orderId });
      const existing = await store.get(order.orderId, "CHARGE");
      if (existing) return { status: "CHARGED", chargeId: existing.chargeId, amount: existing.amount };
      const outcome = await provider.charge({
        orderId: order.orderId,
        amount: order.total.amount,
        currency: order.total.currency,
        token: order.paymentToken,
      });
      if (outcome.status === "DECLINED") {
        const written = await store.put({
          orderId: order.orderId,
          entry: "DECLINE",
          amount: order.total.amount,
          reason: outcome.reason,
          createdAt: now(),
        });
        log.info("payment declined", { reason: outcome.reason, recorded: written });
        return outcome;
      }
      const entry: ChargeEntry = {
        orderId: order.orderId,
        entry: "CHARGE",
        amount: order.total.amount,
        currency: order.total.currency,
        chargeId: outcome.chargeId,
        createdAt: now(),
      };
      if (await store.put(entry)) {
        log.info("payment charged", { chargeId: entry.chargeId, amount: entry.amount });
        return { status: "CHARGED", chargeId: entry.chargeId, amount: entry.amount };
      }
      // A concurrent delivery recorded it first: the recorded charge is the one.
      const recorded = await store.get(order.orderId, "CHARGE");
      if (!recorded) throw new Error("CHARGE entry vanished after a conditional put failed");
      return { status: "CHARGED", chargeId: recorded.chargeId, amount: recorded.amount };
    },

    async refundOnce(orderId) {
      const log = deps.log.child({ orderId });
      if (await store.get(orderId, "REFUND")) return { refunded: true, refundedNow: false };
      const charge = await store.get(orderId, "CHARGE");
      if (!charge) return { refunded: false, refundedNow: false };
      const { refundId } = await provider.refund({
        orderId,
        chargeId: charge.chargeId,
        amount: charge.amount,
      });
      const written = await store.put({
        orderId,
        entry: "REFUND",
        amount: charge.amount,
        refundId,
        chargeId: charge.chargeId,
        createdAt: now(),
      });
      log.info("payment refunded", { chargeId: charge.chargeId, refundId, amount: charge.amount });
      // written=false: a concurrent refund recorded first; the provider deduplicated ours.
      return { refunded: true, refundedNow: written };
    },
  };
}
