import { domainError } from "./errors";
import { sha256Hex } from "./ids";
import type { Currency } from "./types";

export interface ChargeRequest {
  /** Also the provider's idempotency key: charging the same order again returns the same charge. */
  orderId: string;
  /** Integer cents. */
  amount: number;
  currency: Currency;
  token: string;
}

export type ChargeOutcome = { status: "CHARGED"; chargeId: string } | { status: "DECLINED"; reason: string };

export interface RefundRequest {
  orderId: string;
  chargeId: string;
  amount: number;
}

/**
 * The payment provider port. Throws `TransientPaymentError` (a domain error) on a temporary
 * failure; anything else it throws is treated the same way by process_payment (retry).
 */
export interface PaymentProvider {
  charge(request: ChargeRequest): Promise<ChargeOutcome>;
  /** Idempotent per charge, like a provider's idempotency key. */
  refund(request: RefundRequest): Promise<{ refundId: string }>;
}

export const SIMULATOR_TOKENS = { decline: "tok_decline", fail: "tok_fail" } as const;

function digest(text: string): string {
  return sha256Hex(text).slice(0, 24);
}

/** The simulator's charge id for an order: the same for every charge of that order. */
export function simulatedChargeId(orderId: string): string {
  return `ch_${digest(orderId)}`;
}

/**
 * The default provider: deterministic (design §8). `tok_decline` is declined, `tok_fail` fails
 * transiently every time (the message is retried, then lands in the DLQ), an amount above
 * `declineAboveCents` is declined, anything else is charged. Ids derive from the order id, as a
 * real provider's idempotency key would make a retried charge return the same charge.
 */
export function simulatedPaymentProvider(settings: { declineAboveCents: number }): PaymentProvider {
  return {
    async charge({ orderId, amount, token }) {
      if (token === SIMULATOR_TOKENS.fail) {
        throw domainError("TransientPaymentError", "payment provider temporarily unavailable (simulated)");
      }
      if (token === SIMULATOR_TOKENS.decline) return { status: "DECLINED", reason: "CardDeclined" };
      if (amount > settings.declineAboveCents) return { status: "DECLINED", reason: "AmountAboveLimit" };
      return { status: "CHARGED", chargeId: simulatedChargeId(orderId) };
    },
    async refund({ chargeId }) {
      return { refundId: `re_${digest(chargeId)}` };
    },
  };
}
