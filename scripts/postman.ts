/**
 * A Postman collection (v2.1) from the OpenAPI document: one request per operation, with
 * `{{baseUrl}}` and `{{apiKey}}` collection variables and the key sent as the x-api-key header
 * (collection-level API-key auth). Small on purpose: the document has three operations, and the
 * converters on npm pull in far more than this needs.
 */
export const POSTMAN_SCHEMA = "https://schema.getpostman.com/json/collection/v2.1.0/collection.json";

type Json = Record<string, unknown>;

interface Parameter {
  name: string;
  in: "path" | "query" | "header";
  description?: string;
}

interface Operation {
  operationId: string;
  summary: string;
  parameters?: Parameter[];
  requestBody?: { content: { "application/json": { example?: unknown } } };
}

export function buildPostmanCollection(doc: Json): Json {
  const info = doc.info as { title: string; version: string };
  const paths = doc.paths as Record<string, Record<string, Operation>>;
  const items: Json[] = [];
  for (const [route, operations] of Object.entries(paths)) {
    for (const [method, op] of Object.entries(operations)) {
      const params = op.parameters ?? [];
      // Postman writes path parameters as `:name`.
      const segments = route
        .split("/")
        .filter(Boolean)
        .map((s) => s.replace(/^\{(.+)\}$/, ":$1"));
      const query = params.filter((p) => p.in === "query");
      const url: Json = {
        raw: `{{baseUrl}}/${segments.join("/")}${query.length ? `?${query.map((q) => `${q.name}=`).join("&")}` : ""}`,
        host: ["{{baseUrl}}"],
        path: segments,
      };
      if (query.length)
        url.query = query.map((q) => ({
          key: q.name,
          value: "",
          description: q.description,
          disabled: true,
        }));
      const pathParams = params.filter((p) => p.in === "path");
      if (pathParams.length) url.variable = pathParams.map((p) => ({ key: p.name, value: `{{${p.name}}}` }));
      const header: Json[] = params
        .filter((p) => p.in === "header")
        .map((p) => ({ key: p.name, value: "{{$guid}}", description: p.description, disabled: true }));
      const request: Json = { method: method.toUpperCase(), header, url, description: op.summary };
      const example = op.requestBody?.content["application/json"].example;
      if (example !== undefined) {
        header.unshift({ key: "Content-Type", value: "application/json" });
        request.body = {
          mode: "raw",
          raw: JSON.stringify(example, null, 2),
          options: { raw: { language: "json" } },
        };
      }
      items.push({ name: op.summary, request });
    }
  }
  return {
    info: {
      name: info.title,
      description: `Generated from openapi.json (version ${info.version}) by npm run openapi. Set baseUrl to the stack output apiUrl and apiKey to the stack output apiKey.`,
      schema: POSTMAN_SCHEMA,
    },
    auth: {
      type: "apikey",
      apikey: [
        { key: "key", value: "x-api-key", type: "string" },
        { key: "value", value: "{{apiKey}}", type: "string" },
        { key: "in", value: "header", type: "string" },
      ],
    },
    variable: [
      { key: "baseUrl", value: "http://localhost:4000", type: "string" },
      { key: "apiKey", value: "", type: "string" },
      { key: "orderId", value: "", type: "string" },
    ],
    item: items,
  };
}
