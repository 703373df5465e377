import * as v from "valibot";
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from "aws-lambda";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { domainError, validationError } from "./shared/errors";
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
import { dynamoOrderStore, type OrderStore } from "./shared/orderStore";
import { buildOrderIdSchema, toIssues } from "./shared/schema";
import { ENV, requireEnv, type Env } from "./shared/settings";

export interface GetOrderDeps {
  orders: OrderStore;
  allowedOrigins: AllowedOrigins;
  log: Logger;
}

/** GET /orders/{orderId} */
export function getOrderHandler(
  deps: GetOrderDeps,
): (event: APIGatewayProxyEvent) => Promise<APIGatewayProxyResult> {
  const orderIdSchema = buildOrderIdSchema();
  return async (event) => {
    const cors = corsHeaders(deps.allowedOrigins, headerValue(event.headers, "origin"));
    let log = deps.log.child({ requestId: event.requestContext?.requestId });
    try {
      const raw = event.pathParameters?.orderId;
      const parsed = v.safeParse(orderIdSchema, raw);
      if (!parsed.success) {
        throw validationError(
          raw === undefined
            ? [{ path: "pathParameters.orderId", message: "is required" }]
            : toIssues(parsed.issues, "pathParameters.orderId"),
        );
      }
      // The id goes into the log once it is known to be an id (not arbitrary client text).
      log = log.child({ orderId: parsed.output });
      // Consistent: a client reading right after POST /orders sees its order.
      const order = await deps.orders.get(parsed.output, { consistent: true });
      if (!order) throw domainError("NotFound", "no such order");
      return jsonResponse(200, toOrderView(order), cors);
    } catch (e) {
      return errorResponse(e, cors, log);
    }
  };
}

export function getOrderFromEnv(env: Env = process.env) {
  return getOrderHandler({
    orders: dynamoOrderStore(new DynamoDBClient({}), requireEnv(env, ENV.ordersTable)),
    allowedOrigins: parseAllowedOrigins(requireEnv(env, ENV.allowedOrigins)),
    log: createLogger({ fn: "get_order" }),
  });
}
