/**
 * The orders API as the browser sees it (design §8): every call is cross-origin, so what the
 * page can read is what CORS lets through. No framework: `fetch` and JSDoc types that
 * `npm run build` checks (web/tsconfig.json), the order types coming from the handlers' own
 * module so the page cannot drift from the contract.
 */

/** @typedef {import("../functions/shared/types").OrderView} OrderView */
/** @typedef {import("../functions/shared/types").OrderStatus} OrderStatus */
/** @typedef {import("../functions/shared/types").Customer} Customer */
/** @typedef {import("../functions/shared/types").LineItem} LineItem */
/**
 * POST /orders as the form says it: the contract's body (LineItem), except that a quantity left
 * empty goes as null. The page does not validate; the API's answer names what is wrong.
 * @typedef {{ customer: Customer, items: { sku: LineItem["sku"], quantity: LineItem["quantity"] | null }[], payment: { token: string } }} OrderDraft
 */
/** @typedef {{ items: OrderView[], nextToken?: string }} OrderPage */
/** @typedef {{ path: string, message: string }} Issue */
/**
 * Every error body the contract defines: handlers send `error`, API Gateway's own answers
 * (bad key, unknown route, throttling) send `message`.
 * @typedef {{ error?: string, message?: string, issues?: Issue[], skus?: string[] }} ErrorBody
 */

/** The header that makes POST /orders idempotent (functions/shared/http.ts IDEMPOTENCY_HEADER). */
export const IDEMPOTENCY_HEADER = "Idempotency-Key";

/** An answer that is not 2xx, with its body when the browser let the page read it. */
export class ApiError extends Error {
  /**
   * @param {number} status
   * @param {ErrorBody | undefined} body parsed JSON, undefined when the body was not JSON
   * @param {string} text the raw body
   */
  constructor(status, body, text) {
    super(`HTTP ${status}`);
    this.name = "ApiError";
    this.status = status;
    this.body = body;
    this.text = text;
  }
}

/**
 * `fetch` rejected: the API is down, the URL is wrong, or the browser withheld the answer
 * (CORS). A page cannot tell these apart, by design of the web platform.
 */
export class NetworkError extends Error {
  /**
   * @param {string} url
   * @param {unknown} cause
   */
  constructor(url, cause) {
    super(`No readable answer from ${url}`);
    this.name = "NetworkError";
    this.url = url;
    this.cause = cause;
  }
}

/** A fresh Idempotency-Key: 128 random bits (getRandomValues works outside secure contexts too). */
export function newIdempotencyKey() {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * @param {{ baseUrl: string, apiKey: string, fetch?: typeof fetch }} settings
 */
export function createClient({ baseUrl, apiKey, fetch: doFetch = (...args) => fetch(...args) }) {
  const base = baseUrl.replace(/\/+$/, "");

  /**
   * @param {string} method
   * @param {string} path
   * @param {{ body?: unknown, headers?: Record<string, string> }} [opts]
   * @returns {Promise<{ status: number, headers: Headers, json: unknown }>}
   */
  async function send(method, path, opts = {}) {
    const url = base + path;
    /** @type {Record<string, string>} */
    const headers = { "x-api-key": apiKey, ...opts.headers };
    if (opts.body !== undefined) headers["content-type"] = "application/json";
    let res;
    let text;
    try {
      res = await doFetch(url, {
        method,
        headers,
        body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
        // Never send cookies: the API authenticates with the key, and `*` origins forbid credentials.
        credentials: "omit",
        cache: "no-store",
      });
      text = await res.text();
    } catch (err) {
      throw new NetworkError(url, err);
    }
    /** @type {unknown} */
    let json;
    try {
      json = text === "" ? undefined : JSON.parse(text);
    } catch {
      json = undefined;
    }
    if (!res.ok) {
      const body = json !== null && typeof json === "object" ? /** @type {ErrorBody} */ (json) : undefined;
      throw new ApiError(res.status, body, text);
    }
    return { status: res.status, headers: res.headers, json };
  }

  return {
    /**
     * POST /orders. The same key with the same body returns the same order (a retry after a
     * lost answer is safe); the same key with another body is a 409.
     * @param {OrderDraft} body
     * @param {string} idempotencyKey
     * @returns {Promise<{ order: OrderView, location: string | null }>}
     */
    async placeOrder(body, idempotencyKey) {
      const r = await send("POST", "/orders", { body, headers: { [IDEMPOTENCY_HEADER]: idempotencyKey } });
      // Readable only because the API lists Location in Access-Control-Expose-Headers.
      return { order: /** @type {OrderView} */ (r.json), location: r.headers.get("location") };
    },

    /**
     * @param {string} orderId
     * @returns {Promise<OrderView>}
     */
    async getOrder(orderId) {
      return /** @type {OrderView} */ ((await send("GET", `/orders/${encodeURIComponent(orderId)}`)).json);
    },

    /**
     * GET /orders, newest first; pass the previous page's `nextToken` for the next one.
     * @param {{ status?: OrderStatus | "", limit?: number, nextToken?: string }} [query]
     * @returns {Promise<OrderPage>}
     */
    async listOrders(query = {}) {
      const params = new URLSearchParams();
      if (query.status) params.set("status", query.status);
      if (query.limit !== undefined) params.set("limit", String(query.limit));
      if (query.nextToken) params.set("nextToken", query.nextToken);
      const qs = params.toString();
      return /** @type {OrderPage} */ ((await send("GET", `/orders${qs ? `?${qs}` : ""}`)).json);
    },
  };
}

/** @typedef {ReturnType<typeof createClient>} OrdersClient */
