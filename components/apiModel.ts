import { toJsonSchema } from "@valibot/to-json-schema";
import { buildCreateOrderSchema } from "../functions/shared/schema";

/**
 * The POST /orders body model for API Gateway, generated from the handler's own valibot schema.
 * API Gateway models are JSON Schema draft 4; the `openapi-3.0` target emits only keywords
 * draft 4 knows. The distinct-SKU check has no JSON Schema form and stays in the handler
 * (`errorMode: "ignore"` drops it here on purpose).
 */
export function createOrderModelSchema(): Record<string, unknown> {
  const schema = toJsonSchema(buildCreateOrderSchema(), { target: "openapi-3.0", errorMode: "ignore" });
  return { $schema: "http://json-schema.org/draft-04/schema#", title: "CreateOrder", ...schema };
}

/**
 * Gateway response bodies (§8 of the design notes). These templates allow only simple variable
 * substitution; `$context.error.messageString` and `validationErrorString` arrive already quoted.
 */
export const GATEWAY_RESPONSE_TEMPLATES = {
  /** Missing or wrong x-api-key: API Gateway's own `{"message":"Forbidden"}`, kept as is. */
  forbidden: '{"message":$context.error.messageString}',
  badRequestBody:
    '{"error":"ValidationError","message":$context.error.validationErrorString,"issues":[{"path":"","message":$context.error.validationErrorString}]}',
  badRequestParameters:
    '{"error":"ValidationError","message":$context.error.validationErrorString,"issues":[{"path":"","message":$context.error.validationErrorString}]}',
  default4xx: '{"message":$context.error.messageString}',
  default5xx: '{"error":"InternalError"}',
} as const;
