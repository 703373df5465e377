/**
 * The API Gateway REST API, offline: the same contract as the deployed stage (design §8), built
 * from the registered routes, methods, model, gateway responses, API keys and usage plan.
 *
 * Order of checks, as API Gateway does them: unknown route (403 Missing Authentication Token),
 * CORS preflight (MOCK, no key), API key (403 Forbidden), throttling (429), body size (413),
 * request validator against the registered JSON Schema model (400, BAD_REQUEST_BODY template),
 * then the Lambda proxy integration (a function error or malformed proxy answer is a 502).
 */
import { randomUUID } from "node:crypto";
import * as http from "node:http";
import Ajv from "ajv-draft-04";
import type { ErrorObject, ValidateFunction } from "ajv-draft-04";
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from "aws-lambda";
import { GATEWAY_RESPONSE_TEMPLATES } from "../components/apiModel";
import { corsHeaders, headerValue } from "../functions/shared/http";
import { BodyTooLargeError, close, listen, readBody } from "./net";
import type { LocalFunctions } from "./lambda";
import type { Logger } from "./log";
import type { LocalApi, LocalGatewayResponse, LocalRoute } from "./topology";

/** API Gateway's payload limit for REST APIs. */
export const MAX_PAYLOAD_BYTES = 10 * 1024 * 1024;

/** Gateway response types used here and their default status codes. */
const RESPONSE_TYPES = {
  MISSING_AUTHENTICATION_TOKEN: 403,
  INVALID_API_KEY: 403,
  THROTTLED: 429,
  REQUEST_TOO_LARGE: 413,
  BAD_REQUEST_BODY: 400,
  INTEGRATION_FAILURE: 502,
  API_CONFIGURATION_ERROR: 500,
} as const;
type ResponseType = keyof typeof RESPONSE_TYPES;

export interface LocalApiOptions {
  api: LocalApi;
  functions: LocalFunctions;
  /** Valid `x-api-key` values. */
  apiKeys: string[];
  /** Usage-plan throttling per key; `false` turns it off (load tests). */
  throttle: { rateLimit: number; burstLimit: number } | false;
  /**
   * The stage's method throttle: one bucket for all keys together, checked with the per-key one
   * (API Gateway applies both; a request needs room in each). Off when `throttle` is `false`.
   */
  stageThrottle?: { rateLimit: number; burstLimit: number };
  stage: string;
  accountId: string;
  log: Logger;
  port?: number;
}

export interface LocalApiServer {
  url: string;
  port: number;
  stop(): Promise<void>;
}

/** The request validator's message, in API Gateway's bracketed style but with ajv's wording. */
export function validationErrorString(errors: ErrorObject[] | null | undefined): string {
  const parts = (errors ?? []).map((e) => {
    const base = e.instancePath.replace(/^\//, "").replace(/\//g, ".");
    const extra =
      e.keyword === "additionalProperties"
        ? `${base ? base + "." : ""}${String((e.params as { additionalProperty?: string }).additionalProperty)}`
        : e.keyword === "required"
          ? `${base ? base + "." : ""}${String((e.params as { missingProperty?: string }).missingProperty)}`
          : base;
    return `${extra || "(body)"}: ${e.message ?? e.keyword}`;
  });
  return `[${parts.join(", ")}]`;
}

export function compileModel(schema: Record<string, unknown>): ValidateFunction {
  const ajv = new Ajv({ allErrors: true, strict: false });
  // API Gateway's validator checks `format: email`; a pragmatic address check, like its own.
  ajv.addFormat("email", /^[^\s@]+@[^\s@]+\.[^\s@]+$/);
  return ajv.compile(schema);
}

interface CompiledRoute extends LocalRoute {
  pattern: RegExp;
  params: string[];
  validate?: ValidateFunction;
}

function compileRoutes(routes: LocalRoute[]): CompiledRoute[] {
  return routes.map((r) => {
    const params: string[] = [];
    const source = r.resource
      .split("/")
      .map((seg) => {
        const m = /^\{([^}+]+)\}$/.exec(seg);
        if (m) {
          params.push(m[1]);
          return "([^/]+)";
        }
        return seg.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
      })
      .join("/");
    return {
      ...r,
      pattern: new RegExp(`^${source === "" ? "/" : source}/?$`),
      params,
      validate: r.validateBody && r.bodySchema ? compileModel(r.bodySchema) : undefined,
    };
  });
}

/** Token buckets by key, like a usage plan's (or, with one key, the stage's) rate and burst. */
class Throttle {
  private buckets = new Map<string, { tokens: number; at: number }>();
  constructor(private readonly limits: { rateLimit: number; burstLimit: number }) {}
  /** Whether `key` has a token now (refilled to the present, none taken). */
  has(key: string): boolean {
    const now = Date.now();
    const b = this.buckets.get(key) ?? { tokens: this.limits.burstLimit, at: now };
    b.tokens = Math.min(this.limits.burstLimit, b.tokens + ((now - b.at) / 1000) * this.limits.rateLimit);
    b.at = now;
    this.buckets.set(key, b);
    return b.tokens >= 1;
  }
  /** Takes the token `has(key)` just found (no second refill: the bucket is already current). */
  consume(key: string): void {
    this.buckets.get(key)!.tokens -= 1;
  }
}

const STAGE = "stage";

/** Both layers: a request passes only with a token in its key's bucket and in the stage's. */
function admits(perKey: Throttle | undefined, stage: Throttle | undefined, key: string): boolean {
  if ((perKey && !perKey.has(key)) || (stage && !stage.has(STAGE))) return false;
  perKey?.consume(key);
  stage?.consume(STAGE);
  return true;
}

/** Headers as API Gateway hands them to a proxy integration: original case, last value wins. */
function proxyHeaders(req: http.IncomingMessage) {
  const headers: Record<string, string> = {};
  const multi: Record<string, string[]> = {};
  for (let i = 0; i < req.rawHeaders.length; i += 2) {
    const name = req.rawHeaders[i];
    const value = req.rawHeaders[i + 1];
    headers[name] = value;
    (multi[name] ??= []).push(value);
  }
  return { headers, multi };
}

export async function startApi(o: LocalApiOptions): Promise<LocalApiServer> {
  const routes = compileRoutes(o.api.routes);
  const keys = new Set(o.apiKeys);
  const throttle = o.throttle ? new Throttle(o.throttle) : undefined;
  const stageThrottle = o.throttle && o.stageThrottle ? new Throttle(o.stageThrottle) : undefined;

  function gatewayResponse(
    res: http.ServerResponse,
    req: http.IncomingMessage,
    type: ResponseType,
    message: string,
    requestId: string,
    validationError = "",
  ): void {
    const specific: LocalGatewayResponse | undefined = o.api.gatewayResponses[type];
    const fallback =
      RESPONSE_TYPES[type] >= 500 ? o.api.gatewayResponses.DEFAULT_5XX : o.api.gatewayResponses.DEFAULT_4XX;
    const chosen = specific ?? fallback;
    const status = specific?.statusCode ?? RESPONSE_TYPES[type];
    const template = chosen?.template ?? GATEWAY_RESPONSE_TEMPLATES.default4xx;
    // Gateway response templates allow simple substitution only; messageString arrives quoted.
    // (Replacer functions: a `$` in a value must not be read as a replacement pattern.)
    const values: Record<string, string> = {
      "$context.error.messageString": JSON.stringify(message),
      "$context.error.validationErrorString": JSON.stringify(validationError),
      "$context.error.message": message,
      "$context.error.responseType": type,
      "$context.requestId": requestId,
    };
    const body = template.replace(
      /\$context\.(?:error\.(?:messageString|validationErrorString|message|responseType)|requestId)\b/g,
      (name) => values[name],
    );
    const headers: Record<string, string> = {
      "Content-Type": "application/json",
      "x-amzn-RequestId": requestId,
      "x-amzn-ErrorType": type === "INVALID_API_KEY" ? "ForbiddenException" : type,
    };
    for (const [name, mapping] of Object.entries(chosen?.headers ?? {})) {
      if ("value" in mapping) headers[name] = mapping.value;
      else {
        const v = req.headers[mapping.fromRequestHeader];
        if (typeof v === "string") headers[name] = v;
      }
    }
    res.writeHead(status, headers);
    res.end(body);
  }

  async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const requestId = randomUUID();
    const started = Date.now();
    const url = new URL(req.url ?? "/", "http://local");
    const method = String(req.method ?? "GET").toUpperCase();
    let path: string;
    try {
      path = decodeURI(url.pathname);
    } catch {
      path = url.pathname;
    }
    const onResource = routes.filter((r) => r.pattern.test(url.pathname));
    const route = onResource.find((r) => r.method === method);
    if (!route) {
      await readBody(req, MAX_PAYLOAD_BYTES).catch(() => undefined);
      return gatewayResponse(
        res,
        req,
        "MISSING_AUTHENTICATION_TOKEN",
        "Missing Authentication Token",
        requestId,
      );
    }

    if (route.integration.type === "MOCK") {
      const p = route.integration.preflight;
      const headers: Record<string, string> = { ...p.headers, "x-amzn-RequestId": requestId };
      // The same origin rule as the handlers' responses (functions/shared/http.ts).
      const allowOrigin = corsHeaders(
        p.allowedOrigins.includes("*") ? "*" : p.allowedOrigins,
        headerValue(req.headers as Record<string, string | undefined>, "origin"),
      )["Access-Control-Allow-Origin"];
      if (allowOrigin !== undefined) headers["Access-Control-Allow-Origin"] = allowOrigin;
      res.writeHead(p.statusCode, headers);
      return void res.end();
    }

    const apiKey = req.headers["x-api-key"];
    if (route.apiKeyRequired && (typeof apiKey !== "string" || !keys.has(apiKey))) {
      await readBody(req, MAX_PAYLOAD_BYTES).catch(() => undefined);
      return gatewayResponse(res, req, "INVALID_API_KEY", "Forbidden", requestId);
    }
    if (!admits(throttle, stageThrottle, String(apiKey ?? req.socket.remoteAddress))) {
      await readBody(req, MAX_PAYLOAD_BYTES).catch(() => undefined);
      return gatewayResponse(res, req, "THROTTLED", "Too Many Requests", requestId);
    }

    let raw: Buffer;
    try {
      raw = await readBody(req, MAX_PAYLOAD_BYTES);
    } catch (err) {
      if (err instanceof BodyTooLargeError)
        return gatewayResponse(res, req, "REQUEST_TOO_LARGE", "Request Too Long", requestId);
      throw err;
    }
    const bodyText = raw.length > 0 ? raw.toString("utf8") : null;

    if (route.validate) {
      // The model is registered for application/json; API Gateway assumes it when no type is sent.
      const contentType = String(req.headers["content-type"] ?? "application/json")
        .split(";")[0]
        .trim()
        .toLowerCase();
      if (contentType === "application/json") {
        let parsed: unknown;
        let invalid: string | undefined;
        try {
          parsed = JSON.parse(bodyText ?? "");
        } catch {
          invalid = "[Invalid request body: not JSON]";
        }
        if (invalid === undefined && !route.validate(parsed))
          invalid = validationErrorString(route.validate.errors);
        if (invalid !== undefined) {
          o.log.debug("request body rejected by the model", { requestId, error: invalid });
          return gatewayResponse(res, req, "BAD_REQUEST_BODY", "Invalid request body", requestId, invalid);
        }
      }
    }

    const match = route.pattern.exec(url.pathname) as RegExpExecArray;
    const pathParameters = route.params.length
      ? Object.fromEntries(route.params.map((p, i) => [p, safeDecode(match[i + 1])]))
      : null;
    const query: Record<string, string> = {};
    const multiQuery: Record<string, string[]> = {};
    for (const [k, v] of url.searchParams) {
      query[k] = v;
      (multiQuery[k] ??= []).push(v);
    }
    const { headers, multi } = proxyHeaders(req);
    const event: APIGatewayProxyEvent = {
      resource: route.resource,
      path,
      httpMethod: method,
      headers,
      multiValueHeaders: multi,
      queryStringParameters: Object.keys(query).length ? query : null,
      multiValueQueryStringParameters: Object.keys(multiQuery).length ? multiQuery : null,
      pathParameters,
      stageVariables: null,
      body: bodyText,
      isBase64Encoded: false,
      requestContext: {
        accountId: o.accountId,
        apiId: "local",
        authorizer: null,
        domainName: String(req.headers.host ?? "localhost"),
        httpMethod: method,
        path: `/${o.stage}${path}`,
        protocol: `HTTP/${req.httpVersion}`,
        requestId,
        requestTimeEpoch: started,
        resourceId: route.resource,
        resourcePath: route.resource,
        stage: o.stage,
        identity: {
          accessKey: null,
          accountId: null,
          apiKey: typeof apiKey === "string" ? apiKey : null,
          apiKeyId: typeof apiKey === "string" ? `local-key-${o.apiKeys.indexOf(apiKey)}` : null,
          caller: null,
          clientCert: null,
          cognitoAuthenticationProvider: null,
          cognitoAuthenticationType: null,
          cognitoIdentityId: null,
          cognitoIdentityPoolId: null,
          principalOrgId: null,
          sourceIp: String(req.socket.remoteAddress ?? "127.0.0.1"),
          user: null,
          userAgent: String(req.headers["user-agent"] ?? ""),
          userArn: null,
        },
      },
    };

    let result: APIGatewayProxyResult;
    try {
      result = (await o.functions.invoke(route.integration.functionName, event)) as APIGatewayProxyResult;
    } catch (err) {
      o.log.error("integration failed", {
        requestId,
        function: route.integration.functionName,
        error: (err as Error).name,
      });
      return gatewayResponse(res, req, "INTEGRATION_FAILURE", "Internal server error", requestId);
    }
    if (!result || typeof result !== "object" || !Number.isInteger(result.statusCode)) {
      o.log.error("malformed Lambda proxy response", { requestId, function: route.integration.functionName });
      return gatewayResponse(res, req, "INTEGRATION_FAILURE", "Internal server error", requestId);
    }
    const out: Record<string, string | string[]> = { "x-amzn-RequestId": requestId };
    for (const [k, v] of Object.entries(result.headers ?? {})) out[k] = String(v);
    for (const [k, v] of Object.entries(result.multiValueHeaders ?? {}))
      out[k] = (v as unknown[]).map(String);
    const payload = result.isBase64Encoded
      ? Buffer.from(String(result.body ?? ""), "base64")
      : Buffer.from(String(result.body ?? ""));
    if (headerValue(out as Record<string, string>, "content-type") === undefined)
      out["Content-Type"] = "application/json";
    res.writeHead(result.statusCode, out);
    res.end(payload);
  }

  const server = http.createServer((req, res) => {
    handle(req, res).catch((err: Error) => {
      o.log.error("offline API fault", { error: err.message });
      if (!res.headersSent)
        gatewayResponse(res, req, "API_CONFIGURATION_ERROR", "Internal server error", randomUUID());
      else res.end();
    });
  });
  server.keepAliveTimeout = 5000;
  const port = await listen(server, o.port ?? 0);
  return { url: `http://127.0.0.1:${port}`, port, stop: () => close(server) };
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}
