import { namedError } from "./errors";

/**
 * Names of the environment variables each Lambda reads. The components set them from the
 * resources they create and the offline runtime sets them from the same registered inputs,
 * so a name lives here once.
 */
export const ENV = {
  ordersTable: "ORDERS_TABLE",
  inventoryTable: "INVENTORY_TABLE",
  paymentsTable: "PAYMENTS_TABLE",
  stateMachineArn: "STATE_MACHINE_ARN",
  inventoryFunction: "INVENTORY_FUNCTION_NAME",
  /** compensate_order, invoked by the sweeper. */
  compensateFunction: "COMPENSATE_FUNCTION_NAME",
  /** send_notification, invoked by the sweeper to complete a PAID order. */
  notifyFunction: "NOTIFY_FUNCTION_NAME",
  topicArn: "NOTIFICATION_TOPIC_ARN",
  /** Payment simulator: an order total above this many cents is declined. */
  paymentDeclineAboveCents: "PAYMENT_DECLINE_ABOVE_CENTS",
  /** Comma-separated origins allowed by CORS, or `*`. */
  allowedOrigins: "ALLOWED_ORIGINS",
  /** Seconds after which a non-terminal order counts as stuck (sweeper). */
  stuckAfterSeconds: "STUCK_AFTER_SECONDS",
  /** process_payment: records of one batch in flight at once. */
  paymentRecordConcurrency: "PAYMENT_RECORD_CONCURRENCY",
  /** process_payment: a record starts only while at least this many ms remain. */
  paymentRecordBudgetMs: "PAYMENT_RECORD_BUDGET_MS",
} as const;

export type EnvName = (typeof ENV)[keyof typeof ENV];
export type Env = Readonly<Record<string, string | undefined>>;

/** A plain named Error, never `class X extends Error` (see ./errors.ts). */
function missingSetting(name: string): Error {
  return namedError("MissingSettingError", `Missing environment variable ${name}`);
}

/** Reads a required setting; a Lambda without it fails at cold start, not at its first order. */
export function requireEnv(env: Env, name: EnvName): string {
  const value = env[name];
  if (value === undefined || value === "") throw missingSetting(name);
  return value;
}

export function intEnv(env: Env, name: EnvName): number {
  const raw = requireEnv(env, name);
  const value = Number(raw);
  if (!Number.isSafeInteger(value)) throw missingSetting(`${name} (not an integer: ${raw})`);
  return value;
}
