import { randomUUID } from "crypto";
import * as v from "valibot";
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from "aws-lambda";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { SFNClient } from "@aws-sdk/client-sfn";
import { dynamoCatalogue, lookupPrices, type Catalogue } from "./shared/catalogue";
import { domainError, isDomainError, validationError, type Issue } from "./shared/errors";
import {
  corsHeaders,
  errorResponse,
  headerValue,
  IDEMPOTENCY_HEADER,
  jsonResponse,
  parseAllowedOrigins,
  parseJsonBody,
  type AllowedOrigins,
} from "./shared/http";

import { canonicalJson, sha256Hex, uuidFromSeed } from "./shared/ids";
import { createLogger, type Logger } from "./shared/log";
import { orderMetric } from "./shared/metrics";
import { toOrderView, toWorkflowOrder } from "./shared/order";
import { dynamoOrderStore, type OrderStore } from "./shared/orderStore";
import {
  buildCreateOrderSchema,
  buildIdempotencyKeySchema,
  LIMITS,
  toIssues,
  type CreateOrderRequest,
} from "./shared/schema";
import { ENV, requireEnv, type Env } from "./shared/settings";
import { CURRENCY, type Order, type WorkflowInput } from "./shared/types";
import { sfnWorkflowClient, type WorkflowClient } from "./shared/workflowClient";

/** Re-exported for the end-to-end tests; defined with the CORS lists in shared/http.ts. */
export { IDEMPOTENCY_HEADER };

export interface CreateOrderDeps {
  orders: OrderStore;
  catalogue: Catalogue;
  workflow: WorkflowClient;
  allowedOrigins: AllowedOrigins;
  /** ISO-8601 UTC with milliseconds. */
  now: () => string;
  /** A random UUID v4 (used when the request has no Idempotency-Key). */
  newId: () => string;
  log: Logger;
  /** Backoff between BatchGetItem retries of unprocessed keys (tests set 0). */
  catalogueBackoffMs?: number;
}

/** POST /orders (§8). Nothing is written unless the request is valid and every SKU is known. */
export function createOrderHandler(
  deps: CreateOrderDeps,
): (event: APIGatewayProxyEvent) => Promise<APIGatewayProxyResult> {
  const bodySchema = buildCreateOrderSchema();
  const keySchema = buildIdempotencyKeySchema();

  return async (event) => {
    const cors = corsHeaders(deps.allowedOrigins, headerValue(event.headers, "origin"));
    let log = deps.log.child({ requestId: event.requestContext?.requestId });
    try {
      const headerIssues: Issue[] = [];
      const key = headerValue(event.headers, IDEMPOTENCY_HEADER);
      if (key !== undefined) {
        const checked = v.safeParse(keySchema, key);
        if (!checked.success) headerIssues.push(...toIssues(checked.issues, `headers.${IDEMPOTENCY_HEADER}`));
      }
      // The header and the body are checked both, so one answer names every problem, and the
      // message says which part of the request is wrong.
      let bodyIssues: Issue[] = [];
      let parsed: v.SafeParseResult<typeof bodySchema> | undefined;
      try {
        parsed = v.safeParse(bodySchema, parseJsonBody(event, LIMITS.maxBodyBytes));
        if (!parsed.success) bodyIssues = toIssues(parsed.issues);
      } catch (e) {
        if (!isDomainError(e, "ValidationError")) throw e;
        bodyIssues = e.issues ?? [];
      }
      if (headerIssues.length > 0 || bodyIssues.length > 0 || !parsed?.success) {
        throw validationError(
          [...headerIssues, ...bodyIssues],
          invalidRequestMessage(headerIssues, bodyIssues),
        );
      }
      const request: CreateOrderRequest = parsed.output;

      const prices = await lookupPrices(
        deps.catalogue,
        request.items.map((i) => i.sku),
        { backoffMs: deps.catalogueBackoffMs },
      );
      const unknown = request.items.map((i) => i.sku).filter((sku) => !prices.has(sku));
      if (unknown.length > 0) throw domainError("UnknownSku", "unknown SKUs", { skus: unknown });

      // With an Idempotency-Key the id is a function of (API key, Idempotency-Key): a retry
      // lands on the same item and the conditional put tells replay from conflict.
      const apiKeyId = event.requestContext?.identity?.apiKeyId ?? "";
      const orderId = key !== undefined ? uuidFromSeed(`${apiKeyId}:${key}`) : deps.newId();
      log = log.child({ orderId });
      const items = request.items.map(({ sku, quantity }) => ({
        sku,
        quantity,
        unitPrice: prices.get(sku)!,
      }));
      const now = deps.now();
      const candidate: Order = {
        orderId,
        status: "NEW",
        entity: "ORDER",
        customer: request.customer,
        items,
        total: { amount: items.reduce((sum, i) => sum + i.unitPrice * i.quantity, 0), currency: CURRENCY },
        paymentToken: request.payment.token,
        requestHash: sha256Hex(canonicalJson(request)),
        createdAt: now,
        updatedAt: now,
      };

      let order = candidate;
      if (!(await deps.orders.create(candidate))) {
        const existing = await deps.orders.get(orderId, { consistent: true });
        if (!existing) throw new Error("order exists according to the conditional put but cannot be read");
        if (existing.requestHash !== candidate.requestHash) {
          log.warn("idempotency key reused with a different body");
          throw domainError("IdempotencyConflict", "Idempotency-Key was used with a different request");
        }
        log.info("idempotent replay", { status: existing.status });
        order = existing;
      } else {
        log.info("order created", {
          total: order.total.amount,
          lines: order.items.length,
          ...orderMetric("OrdersPlaced"),
        });
      }

      // Also on a replay: the first attempt may have stored the order and failed before the
      // start. The execution name makes this idempotent.
      const input: WorkflowInput = { order: toWorkflowOrder(order) };
      const started = await deps.workflow.start(orderId, input);
      log.info("workflow started", { outcome: started });

      return jsonResponse(201, toOrderView(order), { ...cors, Location: `/orders/${orderId}` });
    } catch (e) {
      return errorResponse(e, cors, log);
    }
  };
}

export function createOrderFromEnv(env: Env = process.env) {
  const dynamo = new DynamoDBClient({});
  return createOrderHandler({
    orders: dynamoOrderStore(dynamo, requireEnv(env, ENV.ordersTable)),
    catalogue: dynamoCatalogue(dynamo, requireEnv(env, ENV.inventoryTable)),
    workflow: sfnWorkflowClient(new SFNClient({}), requireEnv(env, ENV.stateMachineArn)),
    allowedOrigins: parseAllowedOrigins(requireEnv(env, ENV.allowedOrigins)),
    now: () => new Date().toISOString(),
    newId: () => randomUUID(),
    log: createLogger({ fn: "create_order" }),
  });
}

/** Which part of the request a 400 is about: the Idempotency-Key header, the body, or both. */
function invalidRequestMessage(headerIssues: readonly Issue[], bodyIssues: readonly Issue[]): string {
  if (headerIssues.length > 0 && bodyIssues.length > 0)
    return `${IDEMPOTENCY_HEADER} header and request body are invalid`;
  if (headerIssues.length > 0) return `${IDEMPOTENCY_HEADER} header is invalid`;
  return "Request body is invalid";
}
