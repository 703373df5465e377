/**
 * Domain types shared by every handler, the workflow definition and the offline runtime.
 * The API contract these serve is §8 of the design notes.
 */

export const ORDER_STATUSES = ["NEW", "PROCESSING", "PAID", "COMPLETED", "FAILED"] as const;
export type OrderStatus = (typeof ORDER_STATUSES)[number];

export const TERMINAL_STATUSES: readonly OrderStatus[] = ["COMPLETED", "FAILED"];

/** Why an order ended FAILED. Error names sent with SendTaskFailure use the same words. */
export const FAILURE_REASONS = [
  "PaymentDeclined",
  "OutOfStock",
  "Timeout",
  "OrderNotFound",
  "InternalError",
] as const;
export type FailureReason = (typeof FAILURE_REASONS)[number];

/**
 * The `Error` of the workflow's Fail states (workflow/definition.ts): the only ways an execution
 * ends FAILED. The sweeper tells them apart to decide what it may undo.
 */
export const WORKFLOW_FAIL_ERRORS = {
  /** Paid and completed, but the customer was not told: re-notify, never refund. */
  notificationFailed: "NotificationFailed",
  /** Refund or restock did not finish: reconcile. */
  compensationFailed: "CompensationFailed",
} as const;

export const CURRENCY = "USD";
export type Currency = typeof CURRENCY;

export interface Customer {
  email: string;
  phone?: string;
  name?: string;
}

export interface OrderLine {
  sku: string;
  quantity: number;
  /** Integer cents, from the catalogue at the time the order was placed. */
  unitPrice: number;
}

export interface Money {
  /** Integer cents. */
  amount: number;
  currency: Currency;
}

export interface OrderFailure {
  reason: FailureReason;
  /** A charge existed and was refunded (false: nothing was charged). */
  refunded: boolean;
  /** A stock reservation existed and was returned (false: nothing was reserved). */
  restocked: boolean;
  /**
   * When compensation finished (refund and restock done or found unnecessary): from then on
   * `refunded` and `restocked` are what the customer gets. Absent while compensation runs.
   */
  compensatedAt?: string;
}

/** The order as stored in the orders table (one item per order, key `orderId`). */
export interface Order {
  orderId: string;
  status: OrderStatus;
  customer: Customer;
  items: OrderLine[];
  total: Money;
  /** Opaque token from the client's payment form; never returned by the API. */
  paymentToken: string;
  /** SHA-256 of the canonical request body: tells a replay from a conflicting Idempotency-Key. */
  requestHash: string;
  /** Constant partition key of the listing index (`byCreatedAt`). */
  entity: "ORDER";
  createdAt: string;
  updatedAt: string;
  chargeId?: string;
  failure?: OrderFailure;
  notifiedAt?: string;
  /** SNS MessageId of the completion notice (set together with `notifiedAt`). */
  notificationId?: string;
}

/** What the API returns for an order (§8): no customer data, no payment token. */
export interface OrderView {
  orderId: string;
  status: OrderStatus;
  items: OrderLine[];
  total: Money;
  createdAt: string;
  updatedAt: string;
  failure?: OrderFailure;
}

// ---- workflow payloads ------------------------------------------------------------------

/** An order line without its price: what the workflow and update_inventory work with. */
export interface LineItem {
  sku: string;
  quantity: number;
}

/** The order summary the workflow carries (no customer data, no payment token). */
export interface WorkflowOrder {
  orderId: string;
  items: LineItem[];
  total: Money;
}

/** Input of a state-machine execution (execution name = orderId). */
export interface WorkflowInput {
  order: WorkflowOrder;
}

/** Body of the SQS message the callback task sends. */
export interface PaymentMessage {
  order: WorkflowOrder;
  taskToken: string;
}

/** Output passed to SendTaskSuccess; lands at `$.payment`. */
export interface PaymentResult {
  orderId: string;
  chargeId: string;
  amount: number;
}

/** What a Catch puts at `$.error`. */
export interface WorkflowError {
  Error: string;
  Cause?: string;
}

/** Input of send_notification. */
export interface NotifyInput {
  order: WorkflowOrder;
  payment: PaymentResult;
}

/** Input of compensate_order. */
export interface CompensateInput {
  order: WorkflowOrder;
  error: WorkflowError;
}

export interface CompensateResult {
  orderId: string;
  status: "FAILED";
  failure: OrderFailure;
}

// ---- update_inventory (invoked by process_payment and compensate_order) ---------------------

export type InventoryRequest =
  | { action: "reserve"; orderId: string; items: LineItem[] }
  | { action: "release"; orderId: string; items: LineItem[] }
  | { action: "commit"; orderId: string; items: LineItem[] };

export type InventoryResult =
  | { action: "reserve"; ok: true }
  | { action: "reserve"; ok: false; reason: "OutOfStock"; skus: string[] }
  | { action: "release"; released: boolean }
  | { action: "commit"; committed: boolean };

/** A catalogue entry in the inventory table (key `sku`). */
export interface CatalogueItem {
  sku: string;
  name?: string;
  /** Integer cents. */
  price: number;
  stock: number;
}
