/**
 * The API's contract as an OpenAPI 3.0 document, generated from what the API is built from:
 * the route table (components/routes.ts), the handlers' valibot schemas (through
 * @valibot/to-json-schema, as for the API Gateway body model) and the error bodies of design §8.
 *
 *   npm run openapi            writes openapi.json and postman/orderflow.postman_collection.json
 *   npm run openapi -- --check exits 1 when either file differs from what the code generates
 *
 * test/ops/openapi.spec.ts fails on drift, validates the document and compares it with the API
 * Gateway resources the program registers.
 */
import { readFileSync, writeFileSync, mkdirSync } from "node:fs";
import * as path from "node:path";
import { toJsonSchema } from "@valibot/to-json-schema";
import { createOrderModelSchema } from "../components/apiModel";
import { CORS_ALLOWED_HEADERS, ROUTES, type Route } from "../components/routes";
import {
  buildIdempotencyKeySchema,
  buildListOrdersQuerySchema,
  buildOrderIdSchema,
  LIMITS,
  SKU_PATTERN,
} from "../functions/shared/schema";
import { SIMULATOR_TOKENS } from "../functions/shared/payments";
import { FAILURE_REASONS, ORDER_STATUSES } from "../functions/shared/types";
import { buildPostmanCollection } from "./postman";

export const ROOT = path.join(__dirname, "..");
export const OPENAPI_FILE = path.join(ROOT, "openapi.json");
export const POSTMAN_FILE = path.join(ROOT, "postman", "orderflow.postman_collection.json");

type Json = Record<string, unknown>;

const jsonSchema = (schema: Parameters<typeof toJsonSchema>[0]): Json => {
  const { $schema: _ignored, ...rest } = toJsonSchema(schema, {
    target: "openapi-3.0",
    errorMode: "ignore",
  }) as Json;
  return rest;
};

/** An example body (design §8), used by the document and the Postman collection. */
export const CREATE_ORDER_EXAMPLE = {
  customer: { email: "a@example.com", phone: "+15555550100", name: "Ada" },
  items: [{ sku: "SKU-1", quantity: 2 }],
  payment: { token: "tok_visa" },
};

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const jsonContent = (schema: Json) => ({ "application/json": { schema } });

function schemas(): Record<string, Json> {
  // The API Gateway model minus `$schema` (not an OpenAPI 3.0 schema keyword).
  const { $schema: _draft, title: _title, ...createOrder } = createOrderModelSchema();
  const orderLine = {
    type: "object",
    required: ["sku", "quantity", "unitPrice"],
    properties: {
      sku: { type: "string", pattern: SKU_PATTERN.source },
      quantity: { type: "integer", minimum: 1, maximum: LIMITS.maxQuantity },
      unitPrice: { type: "integer", minimum: 0, description: "Integer cents, from the catalogue" },
    },
  };
  const issue = {
    type: "object",
    required: ["path", "message"],
    properties: { path: { type: "string", example: "items.0.quantity" }, message: { type: "string" } },
  };
  return {
    CreateOrder: createOrder,
    Order: {
      type: "object",
      required: ["orderId", "status", "items", "total", "createdAt", "updatedAt"],
      properties: {
        orderId: jsonSchema(buildOrderIdSchema()),
        status: { type: "string", enum: [...ORDER_STATUSES] },
        items: { type: "array", items: orderLine },
        total: {
          type: "object",
          required: ["amount", "currency"],
          properties: {
            amount: { type: "integer", minimum: 0, description: "Integer cents" },
            currency: { type: "string", enum: ["USD"] },
          },
        },
        createdAt: { type: "string", format: "date-time" },
        updatedAt: { type: "string", format: "date-time" },
        failure: ref("Failure"),
      },
    },
    Failure: {
      type: "object",
      description: "Present on a FAILED order: why, and what compensation did.",
      required: ["reason", "refunded", "restocked"],
      properties: {
        reason: { type: "string", enum: [...FAILURE_REASONS] },
        refunded: { type: "boolean" },
        restocked: { type: "boolean" },
        compensatedAt: {
          type: "string",
          format: "date-time",
          description:
            "When compensation finished; from then on refunded and restocked are final. Absent while it runs.",
        },
      },
    },
    OrderList: {
      type: "object",
      required: ["items"],
      properties: {
        items: { type: "array", items: ref("Order") },
        nextToken: { type: "string", description: "Opaque; pass it back as ?nextToken= for the next page" },
      },
    },
    ValidationError: {
      type: "object",
      required: ["error", "message", "issues"],
      properties: {
        error: { type: "string", enum: ["ValidationError"] },
        message: { type: "string" },
        issues: { type: "array", items: issue },
      },
    },
    NotFound: {
      type: "object",
      required: ["error"],
      properties: { error: { type: "string", enum: ["NotFound"] } },
    },
    IdempotencyConflict: {
      type: "object",
      required: ["error"],
      properties: { error: { type: "string", enum: ["IdempotencyConflict"] } },
    },
    UnknownSku: {
      type: "object",
      required: ["error", "skus"],
      properties: {
        error: { type: "string", enum: ["UnknownSku"] },
        skus: { type: "array", items: { type: "string" } },
      },
    },
    InternalError: {
      type: "object",
      required: ["error"],
      properties: { error: { type: "string", enum: ["InternalError"] } },
    },
    GatewayMessage: {
      type: "object",
      description: "API Gateway's own answer (missing or wrong API key, throttling).",
      required: ["message"],
      properties: { message: { type: "string", example: "Forbidden" } },
    },
  };
}

function parameters(route: Route): Json[] {
  const query = buildListOrdersQuerySchema().entries as Record<string, Parameters<typeof toJsonSchema>[0]>;
  const descriptions: Record<string, string> = {
    status: "Only orders with this status",
    limit: `Page size, an integer 1-${LIMITS.maxListLimit} (default ${LIMITS.defaultListLimit})`,
    nextToken: "The nextToken of the previous page",
  };
  return [
    ...route.pathParams.map((name) => ({
      name,
      in: "path",
      required: true,
      schema: jsonSchema(buildOrderIdSchema()),
    })),
    ...route.query.map((name) => {
      if (!query[name])
        throw new Error(`route ${route.method} ${route.path}: no schema for query parameter ${name}`);
      return {
        name,
        in: "query",
        required: false,
        description: descriptions[name],
        schema: jsonSchema(query[name]),
      };
    }),
    ...route.headers.map((name) => {
      if (name !== "Idempotency-Key")
        throw new Error(`route ${route.method} ${route.path}: no schema for header ${name}`);
      return {
        name,
        in: "header",
        required: false,
        description: "Same key + same body = the same order; a different body is a 409",
        schema: jsonSchema(buildIdempotencyKeySchema()),
      };
    }),
  ];
}

function responses(route: Route): Json {
  const error = (description: string, schema: string) => ({ description, content: jsonContent(ref(schema)) });
  const success =
    route.handlerId === "listOrders"
      ? { description: "A page of orders, newest first", content: jsonContent(ref("OrderList")) }
      : route.successStatus === 201
        ? {
            description: "The order was placed (or replayed with the same Idempotency-Key)",
            headers: { Location: { description: "/orders/{orderId}", schema: { type: "string" } } },
            content: jsonContent(ref("Order")),
          }
        : { description: "The order", content: jsonContent(ref("Order")) };
  return {
    [String(route.successStatus)]: success,
    "400": error(
      "Invalid body, path, query or header (also a body that is not JSON or too large)",
      "ValidationError",
    ),
    "403": error("Missing or invalid x-api-key", "GatewayMessage"),
    ...(route.pathParams.length > 0 ? { "404": error("No such order", "NotFound") } : {}),
    ...(route.validatesBody
      ? {
          "409": error("Idempotency-Key reused with a different body", "IdempotencyConflict"),
          "422": error("SKUs that are not in the catalogue", "UnknownSku"),
        }
      : {}),
    "429": error("Throttled by the usage plan", "GatewayMessage"),
    "500": error("Unexpected failure (details only in the logs)", "InternalError"),
  };
}

export function buildOpenApiDocument(): Json {
  const pkg = JSON.parse(readFileSync(path.join(ROOT, "package.json"), "utf8")) as {
    version: string;
    description: string;
  };
  const paths: Record<string, Record<string, Json>> = {};
  for (const route of ROUTES) {
    const operation: Json = {
      operationId: route.handlerId,
      summary: route.summary,
      tags: ["orders"],
      parameters: parameters(route),
      responses: responses(route),
    };
    if (route.validatesBody) {
      operation.requestBody = {
        required: true,
        content: { "application/json": { schema: ref("CreateOrder"), example: CREATE_ORDER_EXAMPLE } },
      };
    }
    (paths[route.path] ??= {})[route.method.toLowerCase()] = operation;
  }
  return {
    openapi: "3.0.3",
    info: {
      title: "orderflow orders API",
      version: pkg.version,
      description: `${pkg.description}. Every operation needs the x-api-key header (the stack output apiKey). Browsers may send ${CORS_ALLOWED_HEADERS.join(", ")}.`,
    },
    servers: [
      {
        url: "https://{restApiId}.execute-api.{region}.amazonaws.com/{stage}",
        description: "The stack output apiUrl",
        variables: {
          restApiId: { default: "restApiId" },
          region: { default: "us-east-1" },
          stage: { default: "v1" },
        },
      },
      { url: "http://localhost:4000", description: "npm start (offline runtime); the port it prints" },
    ],
    security: [{ apiKey: [] }],
    tags: [{ name: "orders" }],
    paths,
    components: {
      securitySchemes: { apiKey: { type: "apiKey", in: "header", name: "x-api-key" } },
      schemas: schemas(),
    },
  };
}

export const serialize = (value: unknown) => JSON.stringify(value, null, 2) + "\n";

/** The two generated files and their contents. */
export function generatedFiles(): { file: string; text: string }[] {
  const doc = buildOpenApiDocument();
  return [
    { file: OPENAPI_FILE, text: serialize(doc) },
    {
      file: POSTMAN_FILE,
      text: serialize(
        buildPostmanCollection(doc, {
          chargedToken: CREATE_ORDER_EXAMPLE.payment.token,
          declinedToken: SIMULATOR_TOKENS.decline,
        }),
      ),
    },
  ];
}

function main(argv: string[]): number {
  const check = argv.includes("--check");
  let drift = false;
  for (const { file, text } of generatedFiles()) {
    const rel = path.relative(ROOT, file);
    if (check) {
      let current = "";
      try {
        current = readFileSync(file, "utf8");
      } catch {
        // missing counts as drift
      }
      if (current !== text) {
        drift = true;
        console.error(`${rel} is out of date: run npm run openapi`);
      }
    } else {
      mkdirSync(path.dirname(file), { recursive: true });
      writeFileSync(file, text);
      console.log(`wrote ${rel}`);
    }
  }
  return drift ? 1 : 0;
}

if (require.main === module) process.exitCode = main(process.argv.slice(2));
