import { IDEMPOTENCY_HEADER } from "../functions/shared/http";

/**
 * The API's route table: the single source for the API Gateway resources and methods
 * (components/orderApi.ts), the offline API (local/) and the OpenAPI document.
 */
export type HandlerId = "createOrder" | "getOrder" | "listOrders";

export interface Route {
  method: "GET" | "POST";
  /** API Gateway resource path. */
  path: "/orders" | "/orders/{orderId}";
  handlerId: HandlerId;
  /** Logical function name inside OrderApi (kebab-case, part of resource names). */
  functionName: string;
  summary: string;
  /** Query-string parameters the method declares (all optional). */
  query: readonly string[];
  /** Path parameters the method declares (all required). */
  pathParams: readonly string[];
  /** Headers the method declares (optional). */
  headers: readonly string[];
  /** The body is validated against the create-order model. */
  validatesBody: boolean;
  successStatus: 200 | 201;
}

export const ROUTES: readonly Route[] = [
  {
    method: "POST",
    path: "/orders",
    handlerId: "createOrder",
    functionName: "create-order",
    summary: "Place an order (validated, priced from the catalogue, idempotent with Idempotency-Key)",
    query: [],
    pathParams: [],
    headers: [IDEMPOTENCY_HEADER],
    validatesBody: true,
    successStatus: 201,
  },
  {
    method: "GET",
    path: "/orders",
    handlerId: "listOrders",
    functionName: "list-orders",
    summary: "List orders, newest first, optionally by status, with a cursor",
    query: ["status", "limit", "nextToken"],
    pathParams: [],
    headers: [],
    validatesBody: false,
    successStatus: 200,
  },
  {
    method: "GET",
    path: "/orders/{orderId}",
    handlerId: "getOrder",
    functionName: "get-order",
    summary: "Get one order with its status and, when failed, what compensation did",
    query: [],
    pathParams: ["orderId"],
    headers: [],
    validatesBody: false,
    successStatus: 200,
  },
];

/** Headers a browser may send and read, and the methods (CORS): defined once, with the handlers. */
export { CORS_ALLOWED_HEADERS, CORS_ALLOWED_METHODS, CORS_EXPOSED_HEADERS } from "../functions/shared/http";
export const CORS_MAX_AGE_SECONDS = 600;
