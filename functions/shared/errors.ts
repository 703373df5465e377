/**
 * Named errors for handler code.
 *
 * Never `class X extends Error` here: Pulumi's closure serializer copies local modules by value
 * and a serialized Error subclass loses its message and `instanceof Error` (measured, see
 * design §2). A domain error is a plain `Error` with a `name`, a `domain: true` marker (so an SDK
 * error that happens to share a name is never mistaken for one) and optional details.
 */

export type DomainErrorName =
  /** 400: the request (body, header, path or query) is invalid. */
  | "ValidationError"
  /** 404 */
  | "NotFound"
  /** 409: same Idempotency-Key, different body. */
  | "IdempotencyConflict"
  /** 422: SKUs that are not in the catalogue. */
  | "UnknownSku"
  /** The payment provider failed temporarily: retry the message. */
  | "TransientPaymentError"
  /** An order status change that the state machine of the order does not allow. */
  | "InvalidTransition"
  /** Compensation was asked to undo an order that already completed. */
  | "OrderCompleted"
  /** update_inventory answered with a function error. */
  | "InventoryFunctionError"
  /** Stored data that breaks an invariant (e.g. a catalogue price that is not integer cents). */
  | "DataError"
  /** A workflow client built without a state machine was asked to start one. */
  | "WorkflowNotConfigured";

export interface Issue {
  /** Dot path of the offending value: `items.0.quantity`, `headers.Idempotency-Key`; root is "". */
  path: string;
  message: string;
}

export interface DomainError extends Error {
  name: DomainErrorName;
  domain: true;
  issues?: Issue[];
  skus?: string[];
  [detail: string]: unknown;
}

/**
 * A plain `Error` with a `name` (no class, see above) for failures that are not domain errors:
 * infrastructure, configuration, another function's error passed on under its own type.
 */
export function namedError(name: string, message: string): Error {
  return Object.assign(new Error(message), { name });
}

export function domainError(
  name: DomainErrorName,
  message: string,
  details: Record<string, unknown> = {},
): DomainError {
  return Object.assign(new Error(message), { ...details, name, domain: true as const }) as DomainError;
}

export function isDomainError(e: unknown, name?: DomainErrorName): e is DomainError {
  if (typeof e !== "object" || e === null) return false;
  const err = e as { domain?: unknown; name?: unknown };
  return err.domain === true && (name === undefined || err.name === name);
}

export function validationError(issues: Issue[], message = "Request is invalid"): DomainError {
  return domainError("ValidationError", message, { issues });
}

/** The `name` of an error thrown by the AWS SDK (its exception class name), if any. */
export function errorName(e: unknown): string | undefined {
  if (typeof e !== "object" || e === null) return undefined;
  const name = (e as { name?: unknown }).name;
  return typeof name === "string" ? name : undefined;
}

export function isConditionalCheckFailed(e: unknown): boolean {
  return errorName(e) === "ConditionalCheckFailedException";
}

/**
 * Awaits a conditional DynamoDB write: its result, or undefined when the write's condition did
 * not hold (nothing was written). Any other error is rethrown.
 */
export async function ifConditionHolds<T>(write: Promise<T>): Promise<T | undefined> {
  try {
    return await write;
  } catch (e) {
    if (isConditionalCheckFailed(e)) return undefined;
    throw e;
  }
}

/**
 * SendTask* answers meaning "this task token is no longer usable": the execution timed out,
 * ended, or the token was already used. Acknowledge, don't retry (design §5).
 */
export const STALE_TASK_ERRORS = ["TaskTimedOut", "TaskDoesNotExist", "InvalidToken"] as const;

export function isStaleTaskError(e: unknown): boolean {
  const name = errorName(e);
  return name !== undefined && (STALE_TASK_ERRORS as readonly string[]).includes(name);
}
