import type { APIGatewayProxyEvent, APIGatewayProxyResult } from "aws-lambda";
import { isDomainError, validationError, type DomainErrorName } from "./errors";
import type { Logger } from "./log";

export type Headers = Record<string, string>;

/** `*` or a list of exact origins, from ENV.allowedOrigins ("*" or "https://a.example,https://b.example"). */
export type AllowedOrigins = "*" | readonly string[];

export function parseAllowedOrigins(raw: string): AllowedOrigins {
  const list = raw
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
  return list.includes("*") ? "*" : list;
}

/** Case-insensitive header lookup (API Gateway passes headers as the client sent them). */
export function headerValue(
  headers: APIGatewayProxyEvent["headers"] | null | undefined,
  name: string,
): string | undefined {
  if (!headers) return undefined;
  const wanted = name.toLowerCase();
  for (const [k, value] of Object.entries(headers)) {
    if (k.toLowerCase() === wanted) return value ?? undefined;
  }
  return undefined;
}

/** The optional request header that makes POST /orders idempotent (§8). */
export const IDEMPOTENCY_HEADER = "Idempotency-Key";

/**
 * CORS, the one definition: the handlers' answers, the API's preflight and gateway responses
 * (components/orderApi.ts, through components/routes.ts) and the offline API all use these.
 */
export const CORS_ALLOWED_HEADERS: readonly string[] = ["Content-Type", "X-Api-Key", IDEMPOTENCY_HEADER];
export const CORS_ALLOWED_METHODS: readonly string[] = ["GET", "POST", "OPTIONS"];
export const CORS_EXPOSED_HEADERS: readonly string[] = ["Location"];

/**
 * CORS headers for a response to a request from `origin`: the origin is echoed when it is
 * allowed, `*` when any is; otherwise no Allow-Origin at all (the browser then blocks the
 * response). `Vary: Origin` always, since the answer depends on it.
 */
export function corsHeaders(allowed: AllowedOrigins, origin: string | undefined): Headers {
  const headers: Headers = {
    Vary: "Origin",
    "Access-Control-Allow-Headers": CORS_ALLOWED_HEADERS.join(","),
    "Access-Control-Allow-Methods": CORS_ALLOWED_METHODS.join(","),
    "Access-Control-Expose-Headers": CORS_EXPOSED_HEADERS.join(","),
  };
  if (allowed === "*") headers["Access-Control-Allow-Origin"] = "*";
  else if (origin !== undefined && allowed.includes(origin)) headers["Access-Control-Allow-Origin"] = origin;
  return headers;
}

export function jsonResponse(
  statusCode: number,
  body: unknown,
  headers: Headers = {},
): APIGatewayProxyResult {
  return {
    statusCode,
    headers: { ...headers, "Content-Type": "application/json" },
    body: JSON.stringify(body),
  };
}

/** The one place where errors become HTTP answers (§8). */
export const HTTP_STATUS: Partial<Record<DomainErrorName, number>> = {
  ValidationError: 400,
  NotFound: 404,
  IdempotencyConflict: 409,
  UnknownSku: 422,
};

/**
 * Domain errors with an HTTP status become their documented body; everything else is a
 * generic 500 whose details go to the log only (never a stack trace to the client).
 */
export function errorResponse(e: unknown, headers: Headers, log: Logger): APIGatewayProxyResult {
  const status = isDomainError(e) ? HTTP_STATUS[e.name] : undefined;
  if (isDomainError(e) && status !== undefined) {
    log.info("request refused", { status, error: e.name, issues: e.issues, skus: e.skus });
    switch (e.name) {
      case "ValidationError":
        return jsonResponse(status, { error: e.name, message: e.message, issues: e.issues ?? [] }, headers);
      case "UnknownSku":
        return jsonResponse(status, { error: e.name, skus: e.skus ?? [] }, headers);
      default:
        return jsonResponse(status, { error: e.name }, headers);
    }
  }
  log.error("request failed", { error: e });
  return jsonResponse(500, { error: "InternalError" }, headers);
}

/** The request body as JSON, refusing a missing, too large or non-JSON body (400). */
export function parseJsonBody(
  event: Pick<APIGatewayProxyEvent, "body" | "isBase64Encoded">,
  maxBytes: number,
): unknown {
  const invalid = (message: string) => validationError([{ path: "", message }], "Request body is invalid");
  if (event.body === null || event.body === undefined || event.body === "") throw invalid("is required");
  // Base64 is 4/3 of the bytes: refuse before decoding something huge.
  if (event.body.length > Math.ceil((maxBytes * 4) / 3) + 4 && event.isBase64Encoded) {
    throw invalid(`must be at most ${maxBytes} bytes`);
  }
  const text = event.isBase64Encoded ? Buffer.from(event.body, "base64").toString("utf8") : event.body;
  if (Buffer.byteLength(text, "utf8") > maxBytes) throw invalid(`must be at most ${maxBytes} bytes`);
  try {
    return JSON.parse(text);
  } catch {
    throw invalid("must be JSON");
  }
}
