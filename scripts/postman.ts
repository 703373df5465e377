/**
 * A Postman collection (v2.1) from the OpenAPI document, with its tests: every request asserts
 * its status code, validates its body against the response schema (the sandbox's built-in ajv,
 * through `pm.response.to.have.jsonSchema`) and checks the `Location` header where the document
 * declares one. Statuses and schemas are looked up in the document by the response's schema
 * name, so a change to the contract changes the assertions (`npm run openapi` regenerates both).
 *
 * Two folders, run in order by newman or the Collection Runner:
 *   Orders API      one request per operation, chained (the POST stores `orderId`)
 *   Contract flow   places an order and polls it to its end, replays the Idempotency-Key, a
 *                   declined payment, the error answers (400, 422, 403, 404) and the listing by
 *                   status followed through `nextToken`
 * Each folder is self-contained, so either can run alone. Small on purpose: the converters on
 * npm pull in far more than this needs.
 */
export const POSTMAN_SCHEMA = "https://schema.getpostman.com/json/collection/v2.1.0/collection.json";

export const FOLDERS = { api: "Orders API", flow: "Contract flow" } as const;

type Json = Record<string, unknown>;

interface Parameter {
  name: string;
  in: "path" | "query" | "header";
  description?: string;
}

interface Response {
  description: string;
  headers?: Record<string, { description?: string }>;
  content?: { "application/json": { schema: Json } };
}

interface Operation {
  operationId: string;
  summary: string;
  parameters?: Parameter[];
  requestBody?: { content: { "application/json": { example?: unknown } } };
  responses: Record<string, Response>;
}

interface Document {
  info: { title: string; version: string };
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, Json> };
}

/** The payment simulator's tokens (design §8), passed in so that this module imports nothing. */
export interface CollectionOptions {
  /** A token the simulator charges. */
  chargedToken: string;
  /** A token the simulator declines. */
  declinedToken: string;
}

/**
 * Variables a run may override (newman `--env-var`, `npm run smoke -- --sku`). Everything else
 * the scripts set for themselves.
 */
export const SETTINGS = {
  baseUrl: "http://localhost:4000",
  apiKey: "",
  /** A SKU in the stack's catalogue with stock: each full run takes 2 units (2 charged orders). */
  sku: "SKU-1",
  /** A well-formed SKU that is not in the catalogue. */
  unknownSku: "NO-SUCH-SKU",
  pollIntervalMs: "1000",
  maxPolls: "60",
} as const;

// ---- reading the document ---------------------------------------------------------------------

const REF = "#/components/schemas/";

/** The schema with every $ref inlined and the documentation-only keywords dropped. */
function resolveSchema(schema: unknown, all: Record<string, Json>, seen: string[] = []): unknown {
  if (Array.isArray(schema)) return schema.map((s) => resolveSchema(s, all, seen));
  if (typeof schema !== "object" || schema === null) return schema;
  const ref = (schema as Json).$ref;
  if (typeof ref === "string") {
    const name = ref.slice(REF.length);
    if (!ref.startsWith(REF) || !all[name]) throw new Error(`unresolvable $ref ${ref}`);
    if (seen.includes(name)) throw new Error(`recursive schema ${[...seen, name].join(" -> ")}`);
    return resolveSchema(all[name], all, [...seen, name]);
  }
  return Object.fromEntries(
    Object.entries(schema as Json)
      .filter(([k]) => k !== "example" && k !== "description")
      .map(([k, v]) => [
        k,
        k === "properties" ? mapValues(v as Json, all, seen) : resolveSchema(v, all, seen),
      ]),
  );
}

const mapValues = (o: Json, all: Record<string, Json>, seen: string[]) =>
  Object.fromEntries(Object.entries(o).map(([k, v]) => [k, resolveSchema(v, all, seen)]));

interface Expected {
  status: number;
  schemaName: string;
  schema: unknown;
  /** The Location template (e.g. `/orders/{orderId}`) when the response declares the header. */
  location?: string;
}

/** The response of `method path` whose body is the named schema: its status and resolved schema. */
function expected(doc: Document, method: string, path: string, schemaName: string): Expected {
  const op = doc.paths[path]?.[method];
  if (!op) throw new Error(`the document has no ${method.toUpperCase()} ${path}`);
  const found = Object.entries(op.responses).find(
    ([, r]) => r.content?.["application/json"].schema.$ref === REF + schemaName,
  );
  if (!found) throw new Error(`${method.toUpperCase()} ${path} has no response with a ${schemaName} body`);
  const [status, response] = found;
  return {
    status: Number(status),
    schemaName,
    schema: resolveSchema(doc.components.schemas[schemaName], doc.components.schemas),
    location: response.headers?.Location?.description,
  };
}

/** The values of an enum in a component schema, checked to include the ones a script relies on. */
function enumValues(doc: Document, schema: string, property: string, needed: string[]): string[] {
  const props = doc.components.schemas[schema]?.properties as Record<string, { enum?: string[] }> | undefined;
  const values = props?.[property]?.enum ?? [];
  for (const n of needed)
    if (!values.includes(n)) throw new Error(`${schema}.${property} does not list ${n} (the flow needs it)`);
  return values;
}

/** A property a script waits on, so that a document without it fails the build, not every run. */
function requireProperty(doc: Document, schema: string, property: string): void {
  const props = doc.components.schemas[schema]?.properties as Json | undefined;
  if (!props?.[property]) throw new Error(`${schema} has no property ${property} (the flow waits for it)`);
}

// ---- scripts ----------------------------------------------------------------------------------

const js = JSON.stringify;

/** The status, schema and Location assertions for one expected response. */
function expectResponse(e: Expected): string[] {
  const lines = [
    `pm.test(${js(`status is ${e.status}`)}, () => pm.response.to.have.status(${e.status}));`,
    `pm.test(${js(`body matches the ${e.schemaName} schema`)}, () => pm.response.to.have.jsonSchema(${js(e.schema)}));`,
  ];
  if (e.location) {
    // Only path parameters the body carries can be filled in (`{orderId}` -> body.orderId).
    lines.push(
      `pm.test(${js(`Location is ${e.location}`)}, () => {`,
      `  const body = pm.response.json();`,
      `  const want = ${js(e.location)}.replace(/\\{(\\w+)\\}/g, (_, k) => String(body[k]));`,
      `  pm.expect(pm.response.headers.get("Location")).to.equal(want);`,
      `});`,
    );
  }
  return lines;
}

/**
 * When a chained variable is missing: a failed assertion, and the request is not sent (never
 * `GET /orders/` with an empty id). A throw would fail the run too, but the request would still go.
 */
const requireVariables = (...names: string[]) =>
  names.flatMap((n) => [
    `if (!pm.collectionVariables.get(${js(n)})) {`,
    `  pm.test(${js(`${n} is set by an earlier request`)}, () => pm.expect.fail(${js(`${n} is not set: run the requests before this one, in order`)}));`,
    `  pm.execution.skipRequest();`,
    `}`,
  ]);

/** Stores a body field in a collection variable for the requests that follow. */
const store = (variable: string, field: string) =>
  `if (pm.response.code < 300) pm.collectionVariables.set(${js(variable)}, pm.response.json().${field});`;

const freshGuid = (variable: string) =>
  `pm.collectionVariables.set(${js(variable)}, pm.variables.replaceIn("{{$guid}}"));`;

/**
 * A request that repeats itself (`setNextRequest`, bounded by `maxPolls`, `pollIntervalMs`
 * apart) until `done(body)` holds, then runs `final`. The counter lives in a collection variable
 * named after the request, reset when the loop ends.
 */
function pollScripts(
  counter: string,
  done: string,
  final: string[],
): { counter: string; pre: string[]; test: string[] } {
  return {
    counter,
    pre: [
      `if (Number(pm.collectionVariables.get(${js(counter)}) || 0) > 0) {`,
      `  setTimeout(() => {}, Number(pm.variables.get("pollIntervalMs")));`,
      `}`,
    ],
    test: [
      `const polls = Number(pm.collectionVariables.get(${js(counter)}) || 0);`,
      `const body = pm.response.code === 200 ? pm.response.json() : {};`,
      `const done = (${done})(body);`,
      `if (!done && polls + 1 < Number(pm.variables.get("maxPolls"))) {`,
      `  pm.collectionVariables.set(${js(counter)}, polls + 1);`,
      `  pm.execution.setNextRequest(pm.info.requestName);`,
      `} else {`,
      `  pm.collectionVariables.set(${js(counter)}, 0);`,
      ...final.map((l) => `  ${l}`),
      `}`,
    ],
  };
}

// ---- requests ---------------------------------------------------------------------------------

interface Step {
  name: string;
  description?: string;
  method: "GET" | "POST";
  /** Postman path segments, e.g. ["orders", "{{orderId}}"] or ["orders", ":orderId"]. */
  path: string[];
  query?: { key: string; value: string; description?: string; disabled?: boolean }[];
  variables?: { key: string; value: string }[];
  headers?: { key: string; value: string; description?: string; disabled?: boolean }[];
  body?: unknown;
  /** Send no x-api-key (the collection's auth is inherited otherwise). */
  noAuth?: boolean;
  pre?: string[];
  test: string[];
}

function item(step: Step): Json {
  const query = step.query ?? [];
  const enabled = query.filter((q) => !q.disabled);
  const url: Json = {
    raw: `{{baseUrl}}/${step.path.join("/")}${enabled.length ? `?${enabled.map((q) => `${q.key}=${q.value}`).join("&")}` : ""}`,
    host: ["{{baseUrl}}"],
    path: step.path,
  };
  if (query.length) url.query = query;
  if (step.variables) url.variable = step.variables;
  const header: Json[] = [...(step.headers ?? [])];
  const request: Json = { method: step.method, header, url };
  if (step.description) request.description = step.description;
  if (step.body !== undefined) {
    header.unshift({ key: "Content-Type", value: "application/json" });
    request.body = {
      mode: "raw",
      raw: JSON.stringify(step.body, null, 2),
      options: { raw: { language: "json" } },
    };
  }
  if (step.noAuth) request.auth = { type: "noauth" };
  const event: Json[] = [];
  if (step.pre?.length)
    event.push({ listen: "prerequest", script: { type: "text/javascript", exec: step.pre } });
  event.push({ listen: "test", script: { type: "text/javascript", exec: step.test } });
  return { name: step.name, event, request };
}

/** Deep copy of the example body with `edit` applied. */
function variant<T>(example: T, edit: (body: T) => void): T {
  const copy = JSON.parse(JSON.stringify(example)) as T;
  edit(copy);
  return copy;
}

interface ExampleBody {
  customer: { name?: string; [k: string]: unknown };
  items: { sku: string; quantity: number }[];
  payment: { token: string };
}

export function buildPostmanCollection(raw: Json, options: CollectionOptions): Json {
  const doc = raw as unknown as Document;
  const post = doc.paths["/orders"]?.post;
  const example = post?.requestBody?.content["application/json"].example as ExampleBody | undefined;
  if (!example?.items?.length) throw new Error("POST /orders has no example body to build requests from");

  const placed = expected(doc, "post", "/orders", "Order");
  const conflict = expected(doc, "post", "/orders", "IdempotencyConflict");
  const invalid = expected(doc, "post", "/orders", "ValidationError");
  const unknownSku = expected(doc, "post", "/orders", "UnknownSku");
  const forbidden = expected(doc, "get", "/orders", "GatewayMessage");
  const list = expected(doc, "get", "/orders", "OrderList");
  const one = expected(doc, "get", "/orders/{orderId}", "Order");
  const notFound = expected(doc, "get", "/orders/{orderId}", "NotFound");
  enumValues(doc, "Order", "status", ["COMPLETED", "FAILED"]);
  enumValues(doc, "Failure", "reason", ["PaymentDeclined"]);
  requireProperty(doc, "Failure", "compensatedAt");

  const body = (token: string, edit: (b: ExampleBody) => void = () => {}) =>
    variant(example, (b) => {
      b.items = [{ sku: "{{sku}}", quantity: 1 }];
      b.payment.token = token;
      edit(b);
    });
  const charged = body(options.chargedToken);
  const declined = body(options.declinedToken);
  const keyName = post.parameters?.find((p) => p.in === "header")?.name;
  if (!keyName) throw new Error("POST /orders declares no idempotency header");
  const keyHeader = (variable: string) => ({ key: keyName, value: `{{${variable}}}` });

  // ---- Orders API: one request per operation ----
  const api: Step[] = [];
  for (const [route, operations] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(operations)) {
      const params = op.parameters ?? [];
      // Postman writes path parameters as `:name`, filled from the variable of the same name.
      const path = route
        .split("/")
        .filter(Boolean)
        .map((s) => s.replace(/^\{(.+)\}$/, ":$1"));
      const pathParams = params.filter((p) => p.in === "path").map((p) => p.name);
      const step: Step = {
        name: `${method.toUpperCase()} ${route}`,
        description: op.summary,
        method: method.toUpperCase() as Step["method"],
        path,
        query: params
          .filter((p) => p.in === "query")
          .map((q) => ({ key: q.name, value: "", description: q.description, disabled: true })),
        variables: pathParams.length ? pathParams.map((p) => ({ key: p, value: `{{${p}}}` })) : undefined,
        headers: params
          .filter((p) => p.in === "header")
          .map((h) => ({ ...keyHeader("idempotencyKey"), description: h.description })),
        pre: requireVariables(...pathParams),
        test: [],
      };
      if (op.requestBody) {
        step.body = charged;
        step.pre = [...step.pre!, freshGuid("idempotencyKey")];
        step.test = [...expectResponse(placed), store("orderId", "orderId")];
      } else if (pathParams.length) {
        step.test = [
          ...expectResponse(one),
          `pm.test("is the order placed above", () => pm.expect(pm.response.json().orderId).to.equal(pm.collectionVariables.get("orderId")));`,
        ];
      } else {
        step.test = expectResponse(list);
      }
      api.push(step);
    }
  }

  // ---- Contract flow ----
  const orderPath = (variable: string) => ["orders", `{{${variable}}}`];
  const terminal = `(b) => b.status === "COMPLETED" || b.status === "FAILED"`;
  // FAILED comes before the refund and restock: only failure.compensatedAt says the flags are final.
  const settledDecline = `(b) => b.status === "COMPLETED" || (b.status === "FAILED" && !!b.failure && typeof b.failure.compensatedAt === "string")`;
  const pollPlaced = pollScripts("pollsPlaced", terminal, [
    `pm.test("the order ends COMPLETED", () => pm.expect(body.status).to.equal("COMPLETED"));`,
  ]);
  const declineFinal = [
    `pm.test("the declined order ends FAILED", () => pm.expect(body.status).to.equal("FAILED"));`,
    `pm.test("compensation is final: failure.compensatedAt is set", () => pm.expect(body.failure && body.failure.compensatedAt).to.be.a("string").and.not.empty);`,
    `pm.test("failure: PaymentDeclined, nothing refunded (nothing charged), stock returned", () =>`,
    `  pm.expect(body.failure).to.include({ reason: "PaymentDeclined", refunded: false, restocked: true }));`,
  ];
  const pollDeclined = pollScripts("pollsDeclined", settledDecline, declineFinal);
  const pollDeclined2 = pollScripts("pollsDeclined2", settledDecline, declineFinal);
  const pageSize = 1;
  const failedPage = [
    { key: "status", value: "FAILED" },
    { key: "limit", value: String(pageSize) },
  ];
  const listPage1 = pollScripts(
    "pollsList",
    // Real DynamoDB indexes are eventually consistent: wait until the listing shows a second page.
    `(b) => typeof b.nextToken === "string"`,
    [
      `pm.test("the page has a nextToken (two FAILED orders exist)", () => pm.expect(body.nextToken).to.be.a("string").and.not.empty);`,
      `pm.collectionVariables.set("listNextToken", body.nextToken || "");`,
      `pm.collectionVariables.set("listFirstOrderId", body.items && body.items[0] ? body.items[0].orderId : "");`,
      `pm.collectionVariables.set("listFirstCreatedAt", body.items && body.items[0] ? body.items[0].createdAt : "");`,
    ],
  );
  /** Place a declined order, then poll it until its compensation is final. */
  const declinedOrderSteps = (
    placedWhat: string,
    polled: string,
    idVariable: string,
    poll: typeof pollDeclined,
  ): Step[] => [
    {
      name: `Place ${placedWhat}`,
      method: "POST",
      path: ["orders"],
      body: declined,
      test: [...expectResponse(placed), store(idVariable, "orderId")],
    },
    {
      name: `Poll ${polled} until its compensation is final`,
      method: "GET",
      path: orderPath(idVariable),
      pre: [...requireVariables(idVariable), ...poll.pre],
      test: [...expectResponse(one), ...poll.test],
    },
  ];
  const pollCounters = [pollPlaced, pollDeclined, pollDeclined2, listPage1].map((p) => p.counter);
  const onlyFailed = [
    `pm.test(${js(`${pageSize} FAILED order on the page, none with another status`)}, () => {`,
    `  const items = pm.response.json().items;`,
    `  pm.expect(items).to.have.lengthOf(${pageSize});`,
    `  for (const o of items) pm.expect(o.status).to.equal("FAILED");`,
    `});`,
  ];

  const flow: Step[] = [
    {
      name: "Place an order with an Idempotency-Key",
      method: "POST",
      path: ["orders"],
      headers: [keyHeader("flowKey")],
      body: charged,
      // A run stopped half-way (Collection Runner) may have left a poll counter behind.
      pre: [freshGuid("flowKey"), `${js(pollCounters)}.forEach((c) => pm.collectionVariables.set(c, 0));`],
      test: [
        ...expectResponse(placed),
        `pm.test("a new order: NEW, priced from the catalogue, total = sum of the lines", () => {`,
        `  const o = pm.response.json();`,
        `  pm.expect(o.status).to.equal("NEW");`,
        `  pm.expect(o.items.map((l) => l.sku)).to.eql([pm.variables.get("sku")]);`,
        `  pm.expect(o.total.amount).to.equal(o.items.reduce((s, l) => s + l.quantity * l.unitPrice, 0));`,
        `});`,
        `pm.test("no customer data or payment token in the answer", () => {`,
        `  const o = pm.response.json();`,
        `  pm.expect(o).to.not.have.any.keys("customer", "payment", "paymentToken");`,
        `});`,
        store("flowOrderId", "orderId"),
      ],
    },
    {
      name: "Poll the order until it is terminal",
      method: "GET",
      path: orderPath("flowOrderId"),
      pre: [...requireVariables("flowOrderId"), ...pollPlaced.pre],
      test: [...expectResponse(one), ...pollPlaced.test],
    },
    {
      name: "Replay the same key and body: the same order",
      method: "POST",
      path: ["orders"],
      headers: [keyHeader("flowKey")],
      body: charged,
      pre: requireVariables("flowKey", "flowOrderId"),
      test: [
        ...expectResponse(placed),
        `pm.test("the same order, not a new one", () => pm.expect(pm.response.json().orderId).to.equal(pm.collectionVariables.get("flowOrderId")));`,
      ],
    },
    {
      name: "Replay the key with another body: conflict",
      method: "POST",
      path: ["orders"],
      headers: [keyHeader("flowKey")],
      body: variant(charged, (b) => (b.customer.name = `${b.customer.name ?? "Ada"} (changed)`)),
      pre: requireVariables("flowKey"),
      test: expectResponse(conflict),
    },
    ...declinedOrderSteps(
      "an order with a declined token",
      "the declined order",
      "declinedOrderId",
      pollDeclined,
    ),
    ...declinedOrderSteps(
      "a second declined order (for the listing)",
      "the second declined order",
      "declinedOrderId2",
      pollDeclined2,
    ),
    {
      name: "A body the API model rejects: 400",
      method: "POST",
      path: ["orders"],
      body: variant(charged, (b) => (b.items[0].quantity = 0)),
      test: [
        ...expectResponse(invalid),
        `pm.test("lists at least one issue", () => pm.expect(pm.response.json().issues).to.be.an("array").that.is.not.empty);`,
      ],
    },
    {
      name: "A body the handler rejects (repeated SKU): 400 with field paths",
      method: "POST",
      path: ["orders"],
      // Valid for the JSON Schema model (it cannot say "distinct SKUs"), so the handler answers.
      body: variant(charged, (b) => b.items.push({ ...b.items[0], quantity: 2 })),
      test: [
        ...expectResponse(invalid),
        `pm.test("the issue names the field: items", () => pm.expect(pm.response.json().issues.map((i) => i.path)).to.include("items"));`,
      ],
    },
    {
      name: "An unknown SKU: 422",
      method: "POST",
      path: ["orders"],
      body: variant(charged, (b) => (b.items[0].sku = "{{unknownSku}}")),
      test: [
        ...expectResponse(unknownSku),
        `pm.test("names the unknown SKU", () => pm.expect(pm.response.json().skus).to.eql([pm.variables.get("unknownSku")]));`,
      ],
    },
    {
      name: "No API key: 403",
      method: "GET",
      path: ["orders"],
      noAuth: true,
      test: [
        ...expectResponse(forbidden),
        `pm.test("API Gateway's own answer", () => pm.expect(pm.response.json()).to.eql({ message: "Forbidden" }));`,
      ],
    },
    {
      name: "An unknown order id: 404",
      method: "GET",
      path: orderPath("missingOrderId"),
      pre: [freshGuid("missingOrderId")],
      test: expectResponse(notFound),
    },
    {
      name: "List FAILED orders, first page",
      method: "GET",
      path: ["orders"],
      query: failedPage,
      pre: listPage1.pre,
      test: [...expectResponse(list), ...onlyFailed, ...listPage1.test],
    },
    {
      name: "List FAILED orders, next page (nextToken)",
      method: "GET",
      path: ["orders"],
      query: [...failedPage, { key: "nextToken", value: "{{listNextToken}}" }],
      pre: requireVariables("listNextToken", "listFirstOrderId"),
      test: [
        ...expectResponse(list),
        ...onlyFailed,
        `pm.test("the next page, newest first: another order, not newer than the first page's", () => {`,
        `  const o = pm.response.json().items[0];`,
        `  pm.expect(o.orderId).to.not.equal(pm.collectionVariables.get("listFirstOrderId"));`,
        `  pm.expect(o.createdAt <= pm.collectionVariables.get("listFirstCreatedAt")).to.equal(true);`,
        `});`,
      ],
    },
  ];

  return {
    info: {
      name: doc.info.title,
      description: [
        `Generated from openapi.json (version ${doc.info.version}) by npm run openapi: every request asserts its status, body schema and Location header.`,
        `Set baseUrl to the stack output apiUrl and apiKey to the stack output apiKey, then run the collection (Collection Runner, or newman).`,
        `"${FOLDERS.flow}" places orders: each run takes 2 units of {{sku}} (one charged order in each folder); the declined orders are restocked.`,
      ].join(" "),
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
    variable: Object.entries(SETTINGS).map(([key, value]) => ({ key, value, type: "string" })),
    item: [
      {
        name: FOLDERS.api,
        description: "One request per operation; the POST stores orderId for the GET.",
        item: api.map(item),
      },
      {
        name: FOLDERS.flow,
        description:
          "Walks the whole contract in order: an order to its end, Idempotency-Key replay and conflict, a declined payment, the error answers, and the listing by status through nextToken.",
        item: flow.map(item),
      },
    ],
  };
}
