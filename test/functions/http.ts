import type { APIGatewayProxyEvent } from "aws-lambda";

/** A REST API (v1) proxy event with just what the handlers read. */
export function apiEvent(
  overrides: {
    body?: string | null;
    headers?: Record<string, string>;
    pathParameters?: Record<string, string> | null;
    queryStringParameters?: Record<string, string> | null;
    apiKeyId?: string;
    isBase64Encoded?: boolean;
  } = {},
): APIGatewayProxyEvent {
  return {
    body: overrides.body ?? null,
    headers: overrides.headers ?? {},
    multiValueHeaders: {},
    httpMethod: "POST",
    isBase64Encoded: overrides.isBase64Encoded ?? false,
    path: "/orders",
    pathParameters: overrides.pathParameters ?? null,
    queryStringParameters: overrides.queryStringParameters ?? null,
    multiValueQueryStringParameters: null,
    stageVariables: null,
    resource: "/orders",
    requestContext: {
      requestId: "req-1",
      identity: { apiKeyId: overrides.apiKeyId },
    } as unknown as APIGatewayProxyEvent["requestContext"],
  };
}

export const VALID_BODY = {
  customer: { email: "a@example.com", phone: "+15555550100", name: "Ada" },
  items: [
    { sku: "SKU-1", quantity: 2 },
    { sku: "SKU-2", quantity: 1 },
  ],
  payment: { token: "tok_visa" },
};

export function parseBody(result: { body: string }): Record<string, unknown> {
  return JSON.parse(result.body) as Record<string, unknown>;
}
