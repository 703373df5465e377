/**
 * Hostile input: 10,000 generated requests, each invalid by construction (one breaking change to
 * a valid order, or no order at all), over real HTTP. Every one must get a 4xx with a JSON error
 * that names the problem; none a 5xx; and nothing may be written anywhere.
 */
import { expect } from "chai";
import * as fc from "fast-check";
import { IDEMPOTENCY_HEADER } from "../../functions/createOrder";
import { call, items, tableCounts, useOfflineSystem } from "./support/offline";

const CATALOGUE = [
  { sku: "SKU-1", name: "One", price: 1000, stock: 10 },
  { sku: "SKU-2", name: "Two", price: 50, stock: 10 },
];
const RUNS = 10_000;

type Json = Record<string, unknown>;
interface HostileRequest {
  kind: string;
  /**
   * What the error must name: a field path (in a handler's `issues[].path` or the gateway
   * validator's message), or for 422 the unknown SKUs. Absent where no one field is at fault:
   * "any json" (random values, wrong anywhere or at the root), "not json" and "oversized" (the
   * body as a whole: path "", message "must be JSON" / "must be at most N bytes"), and the
   * missing or wrong API key (403 `{"message":"Forbidden"}`, checked as such).
   */
  names?: string | string[];
  body: string;
  headers: Record<string, string>;
  apiKey: "valid" | "missing" | "wrong";
}

const validOrder = (): Json => ({
  customer: { email: "ada@example.com", phone: "+15555550100", name: "Ada" },
  items: [
    { sku: "SKU-1", quantity: 1 },
    { sku: "SKU-2", quantity: 2 },
  ],
  payment: { token: "tok_visa" },
});

// Values that are never a valid quantity.
const badQuantity = fc.oneof(
  fc.integer({ max: 0 }),
  fc.integer({ min: 101 }),
  fc.constantFrom(1e308, -1e308, 2 ** 53, 1.5, 0.1, 99.999),
  fc.double({ noNaN: true }).filter((d) => !Number.isInteger(d)),
  fc.string(),
  fc.constantFrom(null, true, false, [], {}, "1"),
);
// Strings that break the SKU pattern ^[A-Za-z0-9_-]{1,64}$.
const badSku = fc.oneof(
  fc.constant(""),
  fc.string({ minLength: 65, maxLength: 200, unit: fc.constantFrom("A", "b", "9", "_", "-") }),
  fc
    .tuple(
      fc.string({ maxLength: 10 }),
      fc.constantFrom(" ", "/", ".", "é", "💥", "\u0000", "'", '"', "<"),
      fc.string({ maxLength: 10 }),
    )
    .map(([a, c, b]) => a + c + b),
  fc.integer(),
  fc.constant(null),
);
// Valid pattern, not in the catalogue: 422 UnknownSku.
const unknownSku = fc
  .string({ minLength: 1, maxLength: 60, unit: fc.constantFrom("A", "Z", "q", "7", "_", "-") })
  .map((s) => `ZZ${s}`);
const wrongType = fc.oneof(
  fc.string(),
  fc.integer(),
  fc.boolean(),
  fc.constant(null),
  fc.array(fc.integer(), { maxLength: 3 }),
);
const oddKey = fc
  .string({ minLength: 1, maxLength: 20 })
  .filter(
    (k) =>
      !["customer", "items", "payment", "email", "phone", "name", "sku", "quantity", "token"].includes(k),
  );
const unicode = fc.string({ minLength: 1, maxLength: 40, unit: "grapheme" });

/** One breaking change to a valid order; each case is invalid for the model or the handler. */
const brokenOrder: fc.Arbitrary<{ kind: string; names: string | string[]; body: Json }> = fc.oneof(
  fc.constantFrom("customer", "items", "payment").map((k) => {
    const o = validOrder();
    delete o[k];
    return { kind: `missing ${k}`, names: k, body: o };
  }),
  fc.constantFrom("customer.email", "payment.token", "items.0.sku", "items.1.quantity").map((path) => {
    const o = validOrder();
    const [a, b, c] = path.split(".");
    const parent = (c ? (o[a] as Json[])[Number(b)] : o[a]) as Json;
    delete parent[c ?? b];
    return { kind: `missing ${path}`, names: path, body: o };
  }),
  fc
    .tuple(fc.constantFrom("root", "customer", "item", "payment"), oddKey, fc.jsonValue())
    .map(([where, key, value]) => {
      const o = validOrder();
      const target = where === "root" ? o : where === "item" ? (o.items as Json[])[0] : (o[where] as Json);
      target[key] = value;
      const parent = { root: "", customer: "customer.", item: "items.0.", payment: "payment." }[where];
      return { kind: `extra field in ${where}`, names: parent + key, body: o };
    }),
  badQuantity.map((q) => {
    const o = validOrder();
    (o.items as Json[])[0].quantity = q;
    return { kind: "bad quantity", names: "items.0.quantity", body: o };
  }),
  badSku.map((s) => {
    const o = validOrder();
    (o.items as Json[])[1].sku = s;
    return { kind: "bad sku", names: "items.1.sku", body: o };
  }),
  fc.uniqueArray(unknownSku, { minLength: 1, maxLength: 3 }).map((skus) => {
    const o = validOrder();
    o.items = skus.map((sku) => ({ sku, quantity: 1 }));
    return { kind: "unknown sku", names: skus, body: o };
  }),
  fc
    .oneof(
      unicode.filter((s) => !s.includes("@")),
      fc.constantFrom("a@", "@b.c", "a b@c.d", "ada@example", "x".repeat(250) + "@e.co"),
    )
    .map((email) => {
      const o = validOrder();
      (o.customer as Json).email = email;
      return { kind: "bad email", names: "customer.email", body: o };
    }),
  fc
    .oneof(unicode, fc.constantFrom("555", "+0123456", "+1 555 555", "15555550100"))
    .filter((p) => !/^\+[1-9][0-9]{6,14}$/.test(p))
    .map((phone) => {
      const o = validOrder();
      (o.customer as Json).phone = phone;
      return { kind: "bad phone", names: "customer.phone", body: o };
    }),
  fc
    .oneof(
      fc.constant(""),
      unicode.filter((t) => !/^[A-Za-z0-9_-]{1,128}$/.test(t)),
      fc.constant("t".repeat(129)),
    )
    .map((token) => {
      const o = validOrder();
      (o.payment as Json).token = token;
      return { kind: "bad token", names: "payment.token", body: o };
    }),
  fc
    .oneof(
      fc.constant([]),
      fc
        .integer({ min: 51, max: 80 })
        .map((n) => Array.from({ length: n }, (_, i) => ({ sku: `S-${i}`, quantity: 1 }))),
      fc.constant([
        { sku: "SKU-1", quantity: 1 },
        { sku: "SKU-1", quantity: 1 },
      ]),
    )
    .map((list) => {
      const o = validOrder();
      o.items = list;
      return { kind: "bad item list", names: "items", body: o };
    }),
  fc
    .tuple(
      fc.constantFrom("customer", "items", "payment", "items.0", "customer.email", "customer.name"),
      wrongType,
    )
    .map(([path, value]) => {
      const o = validOrder();
      const [a, b] = path.split(".");
      if (b === undefined) o[a] = value;
      else if (a === "items") (o.items as unknown[])[0] = value;
      // A string is the right type for email and name: use a number there instead.
      else (o[a] as Json)[b] = typeof value === "string" ? 7 : value;
      return { kind: `wrong type at ${path}`, names: path, body: o };
    }),
  fc.string({ minLength: 101, maxLength: 300 }).map((name) => {
    const o = validOrder();
    (o.customer as Json).name = name;
    return { kind: "name too long", names: "customer.name", body: o };
  }),
);

const contentType = fc.constantFrom(
  "application/json",
  "application/json; charset=utf-8",
  "text/plain",
  "application/xml",
  "",
);
const oddHeaders = fc.record(
  {
    "x-forwarded-for": fc.constantFrom("1.2.3.4", "::1, 10.0.0.1"),
    "user-agent": fc.string({ maxLength: 40, unit: fc.constantFrom("a", "Z", "/", " ", ";", "(") }),
    accept: fc.constantFrom("*/*", "text/html", "application/xml"),
  },
  { requiredKeys: [] },
);

const ct = (type: string): Record<string, string> => (type ? { "content-type": type } : {});

const hostileRequest: fc.Arbitrary<HostileRequest> = fc.oneof(
  {
    weight: 10,
    arbitrary: fc.tuple(brokenOrder, contentType, oddHeaders).map(([b, type, headers]): HostileRequest => ({
      kind: b.kind,
      names: b.names,
      body: JSON.stringify(b.body),
      headers: { ...(headers as Record<string, string>), ...(type ? { "content-type": type } : {}) },
      apiKey: "valid" as const,
    })),
  },
  // Any JSON value at all: never an order (a random object lacks the required fields).
  {
    weight: 2,
    arbitrary: fc.jsonValue().map((v) => ({
      kind: "any json",
      body: JSON.stringify(v) ?? "null",
      headers: { "content-type": "application/json" },
      apiKey: "valid" as const,
    })),
  },
  // Not JSON.
  {
    weight: 2,
    arbitrary: fc
      .tuple(fc.string({ unit: "grapheme" }), contentType)
      .map(([s, type]) => ({ kind: "not json", body: `<${s}`, headers: ct(type), apiKey: "valid" as const })),
  },
  // Valid JSON for the model but over the handler's 16 KB limit (whitespace padding).
  {
    weight: 1,
    arbitrary: fc.integer({ min: 17 * 1024, max: 64 * 1024 }).map((pad) => ({
      kind: "oversized",
      body: JSON.stringify(validOrder()).replace("{", "{" + " ".repeat(pad)),
      headers: { "content-type": "application/json" },
      apiKey: "valid" as const,
    })),
  },
  // Bad Idempotency-Key on an otherwise valid body (over 128 characters).
  {
    weight: 1,
    arbitrary: fc.integer({ min: 129, max: 300 }).map((n) => ({
      kind: "bad idempotency key",
      names: `headers.${IDEMPOTENCY_HEADER}`,
      body: JSON.stringify({ ...validOrder(), items: [{ sku: "SKU-1", quantity: 1 }] }),
      headers: { "content-type": "application/json", "idempotency-key": "k".repeat(n) },
      apiKey: "valid" as const,
    })),
  },
  // A valid order without a usable key.
  {
    weight: 1,
    arbitrary: fc.constantFrom("missing" as const, "wrong" as const).map((apiKey) => ({
      kind: `${apiKey} key`,
      body: JSON.stringify(validOrder()),
      headers: { "content-type": "application/json" },
      apiKey,
    })),
  },
);

/**
 * Does a 400 body name `path`? A handler's issue has it as (a prefix of) `issues[].path`; the
 * gateway validator's message lists `[path: problem, path: problem]` with one empty-path issue.
 */
function namesPath(body: Json, path: string): boolean {
  const issues = Array.isArray(body.issues) ? (body.issues as { path?: unknown }[]) : [];
  if (issues.some((i) => i.path === path || String(i.path).startsWith(path + "."))) return true;
  const message = String(body.message);
  return [":", "."].some((end) => message.includes(`[${path}${end}`) || message.includes(`, ${path}${end}`));
}

describe("hostile input: generated bad requests", function () {
  this.timeout(180_000);
  const running = useOfflineSystem({ catalogue: CATALOGUE }, 20);

  it(`answers ${RUNS} invalid requests with a 4xx JSON error naming the problem, never a 5xx, and writes nothing`, async () => {
    const system = running();
    const countsBefore = await tableCounts(system);
    const inventoryBefore = JSON.stringify(await items(system, system.tables.inventory));
    const executionsBefore = system.sfn.executions.size;
    const byStatus = new Map<number, number>();
    const started = Date.now();

    // Generated up front and sent 8 at a time: sequential fc.assert spends most of its time
    // waiting. A failure names the request (kind, body, answer); HOSTILE_SEED replays a run.
    const seed = Number(process.env.HOSTILE_SEED ?? Date.now() % 2 ** 31);
    const requests = fc.sample(hostileRequest, { numRuns: RUNS, seed });
    const failures: string[] = [];
    const check = async (req: HostileRequest) => {
      const r = await call<Json>(system, "POST", "/orders", {
        rawBody: req.body,
        headers: req.headers,
        apiKey: req.apiKey === "valid" ? system.apiKey : req.apiKey === "wrong" ? "not-the-key" : null,
      });
      byStatus.set(r.status, (byStatus.get(r.status) ?? 0) + 1);
      const what = `${req.kind}: ${r.status} ${r.text.slice(0, 200)} <- ${req.body.slice(0, 160)}`;
      expect(r.status, what).to.be.within(400, 499);
      expect(r.json, `not a JSON object: ${what}`).to.be.an("object");
      if (r.status === 403) {
        expect(req.apiKey, what).to.not.equal("valid");
        expect(r.json).to.deep.equal({ message: "Forbidden" });
      } else if (r.status === 422) {
        expect(r.json.error, what).to.equal("UnknownSku");
        expect(r.json.skus, what).to.have.members(req.names as string[]);
      } else {
        expect(r.status, what).to.equal(400);
        expect(r.json.error, what).to.equal("ValidationError");
        expect(r.json.message, what).to.be.a("string").and.have.length.greaterThan(0);
        expect(r.json.issues, what).to.be.an("array");
        if (typeof req.names === "string")
          expect(namesPath(r.json, req.names), `names ${req.names}: ${what}`).to.equal(true);
      }
    };
    let next = 0;
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        while (next < requests.length && failures.length < 5) {
          const req = requests[next++];
          await check(req).catch((err: Error) => failures.push(err.message));
        }
      }),
    );
    expect(failures, `seed ${seed}:\n${failures.join("\n")}`).to.deep.equal([]);

    const seconds = (Date.now() - started) / 1000;
    console.log(
      `      hostile: ${RUNS} requests in ${seconds.toFixed(1)} s (${Math.round(RUNS / seconds)} req/s); statuses ${JSON.stringify(Object.fromEntries(byStatus))}`,
    );
    expect(await tableCounts(system)).to.deep.equal(countsBefore);
    expect(JSON.stringify(await items(system, system.tables.inventory))).to.equal(inventoryBefore);
    expect(system.sfn.executions.size).to.equal(executionsBefore);
    const depth = await system.sqs.depth(system.queues.work);
    expect(depth).to.deep.equal({ visible: 0, inFlight: 0 });
  });
});
