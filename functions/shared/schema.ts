import * as v from "valibot";
import { validationError, type Issue } from "./errors";
import type { Logger } from "./log";
import { CURRENCY, type LineItem } from "./types";

/**
 * The POST /orders body (§8 of the design notes). This one schema feeds the handler's
 * validation, the API Gateway body model (through @valibot/to-json-schema), the offline API
 * and the OpenAPI document, so the four cannot disagree.
 *
 * Schemas are built by functions, not module constants: a handler calls the builder inside its
 * factory (once per cold start), so Pulumi's serializer captures `require("valibot")` instead of
 * copying every valibot function into the Lambda's `__index.js` by value.
 */

export const LIMITS = {
  maxItems: 50,
  maxQuantity: 100,
  maxEmail: 254,
  maxName: 100,
  maxToken: 128,
  maxIdempotencyKey: 128,
  /** Bodies larger than this are refused before parsing (a valid body is far smaller). */
  maxBodyBytes: 16 * 1024,
  maxListLimit: 100,
  defaultListLimit: 20,
} as const;

export const SKU_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;
/** E.164: what SNS SMS accepts. */
export const PHONE_PATTERN = /^\+[1-9][0-9]{6,14}$/;
export const TOKEN_PATTERN = /^[A-Za-z0-9_-]{1,128}$/;

/** No two lines with the same SKU. */
function distinctSkus() {
  return v.check<LineItem[], "skus must be distinct">(
    (items) => new Set(items.map((i) => i.sku)).size === items.length,
    "skus must be distinct",
  );
}

export function buildCreateOrderSchema() {
  const sku = v.pipe(v.string(), v.regex(SKU_PATTERN, "must match ^[A-Za-z0-9_-]{1,64}$"));

  const customer = v.strictObject({
    email: v.pipe(v.string(), v.maxLength(LIMITS.maxEmail), v.email("must be an e-mail address")),
    phone: v.optional(
      v.pipe(v.string(), v.regex(PHONE_PATTERN, "must be an E.164 number like +15555550100")),
    ),
    name: v.optional(v.pipe(v.string(), v.minLength(1), v.maxLength(LIMITS.maxName))),
  });

  const item = v.strictObject({
    sku,
    quantity: v.pipe(
      v.number(),
      v.integer("must be an integer"),
      v.minValue(1, "must be at least 1"),
      v.maxValue(LIMITS.maxQuantity, `must be at most ${LIMITS.maxQuantity}`),
    ),
  });

  const payment = v.strictObject({
    token: v.pipe(v.string(), v.regex(TOKEN_PATTERN, "must match ^[A-Za-z0-9_-]{1,128}$")),
  });

  return v.strictObject({
    customer,
    items: v.pipe(
      v.array(item),
      v.minLength(1, "must have at least 1 item"),
      v.maxLength(LIMITS.maxItems, `must have at most ${LIMITS.maxItems} items`),
      // JSON Schema cannot say "distinct by sku", so the gateway model drops this check and
      // the handler enforces it.
      distinctSkus(),
    ),
    payment,
  });
}

export type CreateOrderSchema = ReturnType<typeof buildCreateOrderSchema>;
export type CreateOrderRequest = v.InferOutput<CreateOrderSchema>;

export function buildIdempotencyKeySchema() {
  return v.pipe(
    v.string(),
    v.minLength(1, "must be 1-128 characters"),
    v.maxLength(LIMITS.maxIdempotencyKey, "must be 1-128 characters"),
  );
}

export function buildOrderIdSchema() {
  return v.pipe(v.string(), v.uuid("must be an order id (UUID)"));
}

export function buildListOrdersQuerySchema() {
  return v.strictObject({
    status: v.optional(v.picklist(["NEW", "PROCESSING", "PAID", "COMPLETED", "FAILED"])),
    limit: v.optional(
      v.pipe(
        v.string(),
        v.regex(/^[0-9]{1,3}$/, `must be an integer 1-${LIMITS.maxListLimit}`),
        v.transform(Number),
        v.minValue(1, `must be an integer 1-${LIMITS.maxListLimit}`),
        v.maxValue(LIMITS.maxListLimit, `must be an integer 1-${LIMITS.maxListLimit}`),
      ),
    ),
    nextToken: v.optional(v.pipe(v.string(), v.maxLength(2048))),
  });
}

// ---- internal payloads (workflow, queue, direct invokes) ----------------------------------
// Tolerant readers (`v.object` keeps known keys and drops others): these come from our own
// state machine and functions, and a field added later must not break a deployed consumer.

function buildLineItemsSchema() {
  return v.pipe(
    v.array(
      v.object({
        sku: v.pipe(v.string(), v.regex(SKU_PATTERN)),
        quantity: v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(LIMITS.maxQuantity)),
      }),
    ),
    v.minLength(1),
    v.maxLength(LIMITS.maxItems),
  );
}

export function buildWorkflowOrderSchema() {
  return v.object({
    orderId: buildOrderIdSchema(),
    items: buildLineItemsSchema(),
    total: v.object({
      amount: v.pipe(v.number(), v.safeInteger(), v.minValue(0)),
      currency: v.literal(CURRENCY),
    }),
  });
}

/** Body of the SQS message process_payment consumes. */
export function buildPaymentMessageSchema() {
  return v.object({
    order: buildWorkflowOrderSchema(),
    taskToken: v.pipe(v.string(), v.minLength(1), v.maxLength(1024)),
  });
}

export function buildInventoryRequestSchema() {
  return v.object({
    action: v.picklist(["reserve", "release", "commit"]),
    orderId: buildOrderIdSchema(),
    items: v.pipe(buildLineItemsSchema(), distinctSkus()),
  });
}

export function buildNotifyInputSchema() {
  return v.object({
    order: buildWorkflowOrderSchema(),
    payment: v.object({
      orderId: buildOrderIdSchema(),
      chargeId: v.pipe(v.string(), v.minLength(1)),
      amount: v.pipe(v.number(), v.safeInteger(), v.minValue(0)),
    }),
  });
}

export function buildCompensateInputSchema() {
  return v.object({
    order: buildWorkflowOrderSchema(),
    error: v.object({ Error: v.string(), Cause: v.optional(v.string()) }),
  });
}

/**
 * The decoded `nextToken` of GET /orders: the LastEvaluatedKey of the index being listed,
 * nothing more (strict), so a forged or cross-listing token is refused with 400.
 */
export function buildListCursorSchema(status?: string) {
  const createdAt = v.pipe(v.string(), v.isoTimestamp());
  const orderId = buildOrderIdSchema();
  return status === undefined
    ? v.strictObject({ orderId, createdAt, entity: v.literal("ORDER") })
    : v.strictObject({ orderId, createdAt, status: v.literal(status) });
}

// ---- validation helpers -------------------------------------------------------------------

/** valibot issues as `{path, message}` with a dot path under `prefix` ("" for the root). */
export function toIssues(issues: readonly v.BaseIssue<unknown>[], prefix = ""): Issue[] {
  return issues.map((issue) => {
    const path = v.getDotPath(issue) ?? "";
    const full = prefix === "" ? path : path === "" ? prefix : `${prefix}.${path}`;
    const unknownKey = issue.type === "strict_object" && issue.expected === "never";
    return { path: full, message: unknownKey ? "is not an allowed property" : issue.message };
  });
}

/**
 * The input parsed by `schema`, or a ValidationError (`<What> is invalid`, with the issues)
 * after logging `invalid <what>` with the issues. For payloads from our own workflow and
 * functions, where invalid input is a fault to log, not a client's mistake.
 */
export function parseOrThrow<S extends v.GenericSchema>(
  schema: S,
  input: unknown,
  what: string,
  log: Logger,
): v.InferOutput<S> {
  const parsed = v.safeParse(schema, input);
  if (parsed.success) return parsed.output;
  const issues = toIssues(parsed.issues);
  log.error(`invalid ${what}`, { issues });
  throw validationError(issues, `${what.charAt(0).toUpperCase()}${what.slice(1)} is invalid`);
}
