import * as v from "valibot";
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from "aws-lambda";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { validationError } from "./shared/errors";
import {
  corsHeaders,
  errorResponse,
  headerValue,
  jsonResponse,
  parseAllowedOrigins,
  type AllowedOrigins,
} from "./shared/http";
import { createLogger, type Logger } from "./shared/log";
import { toOrderView } from "./shared/order";
import { dynamoOrderStore, type OrderCursor, type OrderStore } from "./shared/orderStore";
import { buildListCursorSchema, buildListOrdersQuerySchema, LIMITS, toIssues } from "./shared/schema";
import { ENV, requireEnv, type Env } from "./shared/settings";
import { ORDER_STATUSES, type OrderStatus, type OrderView } from "./shared/types";

export interface ListOrdersDeps {
  orders: OrderStore;
  allowedOrigins: AllowedOrigins;
  log: Logger;
}

export interface OrderListBody {
  items: OrderView[];
  nextToken?: string;
}

export function encodeNextToken(cursor: OrderCursor): string {
  return Buffer.from(JSON.stringify(cursor), "utf8").toString("base64url");
}

const TOKEN_PATH = "queryStringParameters.nextToken";

type ListCursorSchema = ReturnType<typeof buildListCursorSchema>;

/** The cursor schema of each listing (one per status, one for all orders), built once. */
export function buildListCursorSchemas(): (status: OrderStatus | undefined) => ListCursorSchema {
  const all = buildListCursorSchema();
  const byStatus = Object.fromEntries(ORDER_STATUSES.map((s) => [s, buildListCursorSchema(s)])) as Record<
    OrderStatus,
    ListCursorSchema
  >;
  return (status) => (status === undefined ? all : byStatus[status]);
}

/**
 * Decodes and checks a nextToken strictly: base64url of exactly the key of the index being
 * listed (a token from another listing or a forged one is a 400, never passed to DynamoDB).
 */
export function decodeNextToken(token: string, cursorSchema: ListCursorSchema): OrderCursor {
  const bad = () => validationError([{ path: TOKEN_PATH, message: "is not a valid nextToken" }]);
  if (!/^[A-Za-z0-9_-]+$/.test(token)) throw bad();
  let decoded: unknown;
  try {
    decoded = JSON.parse(Buffer.from(token, "base64url").toString("utf8"));
  } catch {
    throw bad();
  }
  const checked = v.safeParse(cursorSchema, decoded);
  if (!checked.success) throw bad();
  return checked.output as OrderCursor;
}

/** GET /orders?status=&limit=&nextToken= (newest first). */
export function listOrdersHandler(
  deps: ListOrdersDeps,
): (event: APIGatewayProxyEvent) => Promise<APIGatewayProxyResult> {
  const querySchema = buildListOrdersQuerySchema();
  const cursorSchemaFor = buildListCursorSchemas();
  return async (event) => {
    const cors = corsHeaders(deps.allowedOrigins, headerValue(event.headers, "origin"));
    const log = deps.log.child({ requestId: event.requestContext?.requestId });
    try {
      const parsed = v.safeParse(querySchema, event.queryStringParameters ?? {});
      if (!parsed.success) throw validationError(toIssues(parsed.issues, "queryStringParameters"));
      const { status, limit = LIMITS.defaultListLimit, nextToken } = parsed.output;
      const startKey =
        nextToken === undefined ? undefined : decodeNextToken(nextToken, cursorSchemaFor(status));
      const page = await deps.orders.list({ status, limit, startKey });
      const body: OrderListBody = { items: page.items.map(toOrderView) };
      if (page.lastKey) body.nextToken = encodeNextToken(page.lastKey);
      log.info("orders listed", {
        status,
        limit,
        count: body.items.length,
        more: body.nextToken !== undefined,
      });
      return jsonResponse(200, body, cors);
    } catch (e) {
      return errorResponse(e, cors, log);
    }
  };
}

export function listOrdersFromEnv(env: Env = process.env) {
  return listOrdersHandler({
    orders: dynamoOrderStore(new DynamoDBClient({}), requireEnv(env, ENV.ordersTable)),
    allowedOrigins: parseAllowedOrigins(requireEnv(env, ENV.allowedOrigins)),
    log: createLogger({ fn: "list_orders" }),
  });
}
