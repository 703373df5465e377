/**
 * What the page says for each error the contract defines (design §8): what went wrong, the
 * fields or SKUs concerned, and what to do about it. Pure: app.js renders the result.
 */
import { ApiError, NetworkError } from "./api.js";

/** @typedef {{ title: string, details: string[], action: string }} ErrorView */

/**
 * @param {unknown} err
 * @param {{ origin: string }} where the page's own origin, named when CORS may be the cause
 * @returns {ErrorView}
 */
export function describeError(err, where) {
  if (err instanceof NetworkError) {
    return {
      title: "No readable answer from the API",
      details: [`${err.url}`],
      action:
        `Check the API URL and that the API is running. If it is, this page's origin (${where.origin}) ` +
        "is probably not in orderflow:allowedOrigins, so the browser withholds the answer.",
    };
  }
  if (!(err instanceof ApiError)) {
    return { title: "Unexpected error in the page", details: [String(err)], action: "Reload the page." };
  }
  const body = err.body ?? {};
  switch (err.status) {
    case 400:
      return {
        title: "The API refused the order: fix these fields",
        // Handlers name each field; API Gateway's validator names them inside one message (path "").
        details: (body.issues ?? [{ path: "", message: body.message ?? err.text }]).map(
          (i) => `${i.path === "" ? "(body)" : i.path}: ${i.message}`,
        ),
        action: "Correct the fields listed and place the order again.",
      };
    case 403:
      if (body.message === "Missing Authentication Token")
        return {
          title: "No such route on this API",
          details: [],
          action: "Check the API URL: it ends with the stage (…/v1 when deployed).",
        };
      return {
        title: "The API key was refused",
        details: [body.message ?? ""].filter(Boolean),
        action:
          "Check the API key in Settings: `npm start` prints it; for a deployed stack, " +
          "`pulumi stack output apiKey --show-secrets`.",
      };
    case 404:
      return { title: "No such order", details: [], action: "Check the order id." };
    case 409:
      return {
        title: "This Idempotency-Key was already used for a different order",
        details: [],
        action: "The page has made a new key: place the order again to create a new order.",
      };
    case 413:
      return { title: "The request is too large", details: [], action: "Send fewer items." };
    case 422:
      return {
        title: "Unknown SKUs",
        details: body.skus ?? [],
        action: "Pick SKUs from the catalogue.",
      };
    case 429:
      return {
        title: "Too many requests (the usage plan's rate limit)",
        details: [],
        action:
          "Wait a few seconds and retry. Retrying the same order is safe: it sends the same Idempotency-Key.",
      };
    default:
      return {
        title: err.status >= 500 ? `The API failed (${err.status})` : `Unexpected answer (${err.status})`,
        details: [body.error ?? body.message ?? err.text].filter(Boolean),
        action:
          err.status >= 500
            ? "Retry in a moment; the same order keeps its Idempotency-Key, so it is never placed twice."
            : "See the details above.",
      };
  }
}
