import { expect } from "chai";
import * as sinon from "sinon";
import { createOrderHandler, type CreateOrderDeps } from "../../functions/createOrder";
import type { Catalogue } from "../../functions/shared/catalogue";
import { canonicalJson, sha256Hex } from "../../functions/shared/ids";
import { LIMITS } from "../../functions/shared/schema";
import type { WorkflowInput } from "../../functions/shared/types";
import type { WorkflowClient } from "../../functions/shared/workflowClient";
import { apiEvent, parseBody, VALID_BODY } from "./http";
import { captureLogger, fakeOrderStore, ORDER_ID, T0, type FakeOrderStore } from "./support";

const PRICES: Record<string, number> = { "SKU-1": 1250, "SKU-2": 500 };
const UUID_V4ISH = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe("create_order", () => {
  let orders: FakeOrderStore;
  let catalogue: { getPrices: sinon.SinonStub };
  let workflow: {
    start: sinon.SinonStub;
    sendSuccess: sinon.SinonStub;
    sendFailure: sinon.SinonStub;
    heartbeat: sinon.SinonStub;
  };
  let deps: CreateOrderDeps;
  let log: ReturnType<typeof captureLogger>;
  let getSpy: sinon.SinonSpy<Parameters<FakeOrderStore["get"]>, ReturnType<FakeOrderStore["get"]>>;

  beforeEach(() => {
    orders = fakeOrderStore();
    sinon.spy(orders, "create");
    getSpy = sinon.spy(orders, "get");
    catalogue = {
      getPrices: sinon.stub().callsFake(async (skus: string[]) => ({
        found: skus.filter((s) => s in PRICES).map((sku) => ({ sku, price: PRICES[sku] })),
        unprocessed: [],
      })),
    };
    workflow = {
      start: sinon.stub().resolves("started"),
      sendSuccess: sinon.stub(),
      sendFailure: sinon.stub(),
      heartbeat: sinon.stub(),
    };
    log = captureLogger();
    deps = {
      orders,
      catalogue: catalogue as unknown as Catalogue,
      workflow: workflow as unknown as WorkflowClient,
      allowedOrigins: ["https://shop.example"],
      now: () => T0,
      newId: () => ORDER_ID,
      log,
      catalogueBackoffMs: 0,
    };
  });

  afterEach(() => sinon.restore());

  /** Posts `body` as JSON; a `raw` string is sent as is. */
  const post = (body: unknown, headers: Record<string, string> = {}, apiKeyId?: string) =>
    createOrderHandler(deps)(apiEvent({ body: JSON.stringify(body), headers, apiKeyId }));
  const postRaw = (raw: string, headers: Record<string, string> = {}) =>
    createOrderHandler(deps)(apiEvent({ body: raw, headers }));

  const expectNothingWritten = () => {
    expect((orders.create as sinon.SinonSpy).called, "PutItem").to.equal(false);
    expect(workflow.start.called, "StartExecution").to.equal(false);
  };

  describe("success", () => {
    it("stores the order with catalogue prices, starts the workflow and answers 201", async () => {
      const res = await post(VALID_BODY, { Origin: "https://shop.example" });
      expect(res.statusCode).to.equal(201);
      expect(res.headers).to.include({
        Location: `/orders/${ORDER_ID}`,
        "Content-Type": "application/json",
        "Access-Control-Allow-Origin": "https://shop.example",
        Vary: "Origin",
      });
      expect(parseBody(res)).to.deep.equal({
        orderId: ORDER_ID,
        status: "NEW",
        items: [
          { sku: "SKU-1", quantity: 2, unitPrice: 1250 },
          { sku: "SKU-2", quantity: 1, unitPrice: 500 },
        ],
        total: { amount: 3000, currency: "USD" },
        createdAt: T0,
        updatedAt: T0,
      });
      const stored = orders.items.get(ORDER_ID)!;
      expect(stored).to.include({ status: "NEW", entity: "ORDER", paymentToken: "tok_visa", createdAt: T0 });
      expect(stored.customer).to.deep.equal(VALID_BODY.customer);
      expect(stored.requestHash).to.equal(sha256Hex(canonicalJson(VALID_BODY)));
      const expected: WorkflowInput = {
        order: {
          orderId: ORDER_ID,
          items: [
            { sku: "SKU-1", quantity: 2 },
            { sku: "SKU-2", quantity: 1 },
          ],
          total: { amount: 3000, currency: "USD" },
        },
      };
      expect(workflow.start.calledOnceWithExactly(ORDER_ID, expected)).to.equal(true);
    });

    it("never returns customer data or the payment token", async () => {
      const res = await post(VALID_BODY);
      expect(res.body).not.to.match(/a@example\.com|tok_visa|customer|paymentToken|requestHash/);
    });

    it("takes prices from the catalogue, never from the client", async () => {
      const res = await post({ ...VALID_BODY, items: [{ sku: "SKU-1", quantity: 3, price: 1 }] });
      // Extra properties are refused outright...
      expect(res.statusCode).to.equal(400);
      // ...and a valid body is priced by the catalogue.
      const ok = await post({ ...VALID_BODY, items: [{ sku: "SKU-1", quantity: 3 }] });
      expect(parseBody(ok).total).to.deep.equal({ amount: 3750, currency: "USD" });
    });

    it("logs JSON lines that carry the order id once it exists", async () => {
      await post(VALID_BODY);
      const created = log.lines.find((l) => l.msg === "order created");
      expect(created).to.include({ orderId: ORDER_ID, level: "info", requestId: "req-1" });
      const started = log.lines.find((l) => l.msg === "workflow started");
      expect(started, "the workflow-started line").to.not.equal(undefined);
      expect(started).to.include({ orderId: ORDER_ID, outcome: "started" });
    });

    it("treats ExecutionAlreadyExists (adapter: alreadyExists) as success", async () => {
      workflow.start.resolves("alreadyExists");
      expect((await post(VALID_BODY)).statusCode).to.equal(201);
    });

    it("asks again for keys BatchGetItem left unprocessed", async () => {
      catalogue.getPrices
        .onFirstCall()
        .resolves({ found: [{ sku: "SKU-1", price: 1250 }], unprocessed: ["SKU-2"] });
      const res = await post(VALID_BODY);
      expect(res.statusCode).to.equal(201);
      expect(catalogue.getPrices.secondCall.args[0]).to.deep.equal(["SKU-2"]);
    });

    it("accepts a base64-encoded body", async () => {
      const res = await createOrderHandler(deps)(
        apiEvent({ body: Buffer.from(JSON.stringify(VALID_BODY)).toString("base64"), isBase64Encoded: true }),
      );
      expect(res.statusCode).to.equal(201);
    });
  });

  describe("bad input: 400, nothing written", () => {
    const cases: [string, unknown, string][] = [
      ["wrong type at the root", "a JSON string", ""],
      ["an array at the root", [], "customer"],
      ["missing customer", { items: VALID_BODY.items, payment: VALID_BODY.payment }, "customer"],
      ["extra root property", { ...VALID_BODY, admin: true }, "admin"],
      [
        "extra nested property",
        { ...VALID_BODY, customer: { ...VALID_BODY.customer, vip: true } },
        "customer.vip",
      ],
      ["quantity 0", { ...VALID_BODY, items: [{ sku: "SKU-1", quantity: 0 }] }, "items.0.quantity"],
      ["quantity 101", { ...VALID_BODY, items: [{ sku: "SKU-1", quantity: 101 }] }, "items.0.quantity"],
      ["quantity 1.5", { ...VALID_BODY, items: [{ sku: "SKU-1", quantity: 1.5 }] }, "items.0.quantity"],
      [
        "quantity as a string",
        { ...VALID_BODY, items: [{ sku: "SKU-1", quantity: "2" }] },
        "items.0.quantity",
      ],
      ["bad sku", { ...VALID_BODY, items: [{ sku: "SKU 1!", quantity: 1 }] }, "items.0.sku"],
      [
        "duplicate skus",
        {
          ...VALID_BODY,
          items: [
            { sku: "SKU-1", quantity: 1 },
            { sku: "SKU-1", quantity: 2 },
          ],
        },
        "items",
      ],
      ["no items", { ...VALID_BODY, items: [] }, "items"],
      [
        "51 items",
        { ...VALID_BODY, items: Array.from({ length: 51 }, (_, i) => ({ sku: `S${i}`, quantity: 1 })) },
        "items",
      ],
      ["bad email", { ...VALID_BODY, customer: { email: "not-an-email" } }, "customer.email"],
      [
        "bad phone",
        { ...VALID_BODY, customer: { email: "a@example.com", phone: "555-0100" } },
        "customer.phone",
      ],
      ["bad token", { ...VALID_BODY, payment: { token: "tok visa" } }, "payment.token"],
    ];
    for (const [title, body, path] of cases) {
      it(`${title} -> issue at "${path}"`, async () => {
        const res = await post(body);
        expect(res.statusCode).to.equal(400);
        const b = parseBody(res);
        expect(b).to.include({ error: "ValidationError", message: "Request body is invalid" });
        expect((b.issues as { path: string }[]).map((i) => i.path)).to.include(path);
        expectNothingWritten();
        expect(catalogue.getPrices.called).to.equal(false);
      });
    }

    it("body that is not JSON", async () => {
      const res = await postRaw("{not json");
      expect(res.statusCode).to.equal(400);
      expect(parseBody(res).issues).to.deep.equal([{ path: "", message: "must be JSON" }]);
      expectNothingWritten();
    });

    it("missing body", async () => {
      const res = await createOrderHandler(deps)(apiEvent({ body: null }));
      expect(res.statusCode).to.equal(400);
      expectNothingWritten();
    });

    it(`body larger than ${LIMITS.maxBodyBytes} bytes`, async () => {
      const big = JSON.stringify({ ...VALID_BODY, pad: "x".repeat(LIMITS.maxBodyBytes) });
      const res = await postRaw(big);
      expect(res.statusCode).to.equal(400);
      expect(parseBody(res).issues).to.deep.equal([
        { path: "", message: `must be at most ${LIMITS.maxBodyBytes} bytes` },
      ]);
      expectNothingWritten();
    });

    it("counts bytes, not characters", async () => {
      // 6000 three-byte characters: 18000 bytes, under the limit in characters.
      const res = await postRaw(
        JSON.stringify({ ...VALID_BODY, customer: { email: "a@example.com", name: "€".repeat(6000) } }),
      );
      expect(parseBody(res).issues).to.deep.equal([
        { path: "", message: `must be at most ${LIMITS.maxBodyBytes} bytes` },
      ]);
    });

    for (const [title, key] of [
      ["empty", ""],
      ["129 characters", "k".repeat(129)],
    ]) {
      it(`Idempotency-Key ${title} -> a header problem, headers.Idempotency-Key`, async () => {
        const res = await post(VALID_BODY, { "idempotency-key": key });
        expect(res.statusCode).to.equal(400);
        const body = parseBody(res);
        expect(body.message).to.equal("Idempotency-Key header is invalid");
        expect((body.issues as { path: string }[]).map((i) => i.path)).to.deep.equal([
          "headers.Idempotency-Key",
        ]);
        expectNothingWritten();
      });
    }

    it("a bad Idempotency-Key and a body that is not JSON: both named in one answer", async () => {
      const res = await postRaw("{not json", { "idempotency-key": "" });
      expect(res.statusCode).to.equal(400);
      const body = parseBody(res);
      expect(body.message).to.equal("Idempotency-Key header and request body are invalid");
      expect(body.issues).to.deep.equal([
        { path: "headers.Idempotency-Key", message: (body.issues as { message: string }[])[0].message },
        { path: "", message: "must be JSON" },
      ]);
      expectNothingWritten();
    });
  });

  describe("catalogue", () => {
    it("unknown SKUs -> 422 naming them, nothing written", async () => {
      const res = await post({
        ...VALID_BODY,
        items: [
          { sku: "SKU-1", quantity: 1 },
          { sku: "NOPE", quantity: 1 },
          { sku: "GONE", quantity: 1 },
        ],
      });
      expect(res.statusCode).to.equal(422);
      expect(parseBody(res)).to.deep.equal({ error: "UnknownSku", skus: ["NOPE", "GONE"] });
      expectNothingWritten();
    });

    it("a catalogue price that is not integer cents is a 500, not an order", async () => {
      catalogue.getPrices.resolves({
        found: [
          { sku: "SKU-1", price: 12.5 },
          { sku: "SKU-2", price: 500 },
        ],
        unprocessed: [],
      });
      const res = await post(VALID_BODY);
      expect(res.statusCode).to.equal(500);
      expectNothingWritten();
    });

    it("keys still unprocessed after the retries -> 500, nothing written", async () => {
      catalogue.getPrices.callsFake(async (skus: string[]) => ({ found: [], unprocessed: skus }));
      const res = await post(VALID_BODY);
      expect(res.statusCode).to.equal(500);
      expect(catalogue.getPrices.callCount).to.equal(4);
      expectNothingWritten();
    });
  });

  describe("Idempotency-Key", () => {
    it("derives a UUID-shaped id from API key + Idempotency-Key (not the random one)", async () => {
      const a = parseBody(await post(VALID_BODY, { "Idempotency-Key": "k-1" }, "api-1"));
      expect(a.orderId).to.match(UUID_V4ISH).and.not.equal(ORDER_ID);
      orders.items.clear();
      const b = parseBody(await post(VALID_BODY, { "IDEMPOTENCY-KEY": "k-1" }, "api-1"));
      expect(b.orderId).to.equal(a.orderId);
      orders.items.clear();
      const c = parseBody(await post(VALID_BODY, { "Idempotency-Key": "k-1" }, "api-2"));
      expect(c.orderId).not.to.equal(a.orderId);
    });

    it("same key + same body: replays the stored order (201) and starts the workflow again", async () => {
      const first = await post(VALID_BODY, { "Idempotency-Key": "k-1" });
      deps.now = () => "2030-01-01T00:00:00.000Z";
      // Same body, keys in another order: canonical hash.
      const reordered = {
        payment: VALID_BODY.payment,
        items: VALID_BODY.items,
        customer: VALID_BODY.customer,
      };
      const second = await post(reordered, { "Idempotency-Key": "k-1" });
      expect(second.statusCode).to.equal(201);
      expect(parseBody(second)).to.deep.equal(parseBody(first));
      expect(orders.items.size).to.equal(1);
      expect(workflow.start.callCount).to.equal(2);
      expect(workflow.start.secondCall.args).to.deep.equal(workflow.start.firstCall.args);
      // Only the replay reads the stored order, and consistently (the put that lost just ran).
      expect(getSpy.callCount).to.equal(1);
      expect(getSpy.firstCall.args).to.deep.equal([parseBody(first).orderId, { consistent: true }]);
    });

    it("replays the stored status, not NEW", async () => {
      const first = parseBody(await post(VALID_BODY, { "Idempotency-Key": "k-1" }));
      const o = orders.items.get(first.orderId as string)!;
      orders.items.set(o.orderId, { ...o, status: "PAID" });
      expect(parseBody(await post(VALID_BODY, { "Idempotency-Key": "k-1" })).status).to.equal("PAID");
    });

    it("same key + different body: 409, nothing changed, no workflow", async () => {
      await post(VALID_BODY, { "Idempotency-Key": "k-1" });
      const before = JSON.stringify([...orders.items.values()]);
      workflow.start.resetHistory();
      const res = await post(
        { ...VALID_BODY, items: [{ sku: "SKU-1", quantity: 1 }] },
        { "Idempotency-Key": "k-1" },
      );
      expect(res.statusCode).to.equal(409);
      expect(parseBody(res)).to.deep.equal({ error: "IdempotencyConflict" });
      expect(JSON.stringify([...orders.items.values()])).to.equal(before);
      expect(workflow.start.called).to.equal(false);
    });
  });

  describe("failures", () => {
    it("an unknown error is a 500 without details; the details go to the log", async () => {
      sinon.restore();
      const failing = {
        ...orders,
        create: sinon
          .stub()
          .rejects(
            Object.assign(new Error("secret table arn:aws:dynamodb:xyz"), { name: "InternalServerError" }),
          ),
      };
      deps.orders = failing;
      const res = await post(VALID_BODY, { Origin: "https://shop.example" });
      expect(res.statusCode).to.equal(500);
      expect(parseBody(res)).to.deep.equal({ error: "InternalError" });
      expect(res.body).not.to.match(/secret|arn|stack|at /);
      expect(res.headers).to.include({ "Access-Control-Allow-Origin": "https://shop.example" });
      const line = log.lines.find((l) => l.level === "error")!;
      expect(JSON.stringify(line)).to.contain("secret table");
      expect(line.orderId).to.equal(ORDER_ID);
    });

    it("StartExecution failing -> 500; the stored order lets a retry with the same key replay", async () => {
      workflow.start.onFirstCall().rejects(new Error("throttled"));
      expect((await post(VALID_BODY, { "Idempotency-Key": "k-9" })).statusCode).to.equal(500);
      const retry = await post(VALID_BODY, { "Idempotency-Key": "k-9" });
      expect(retry.statusCode).to.equal(201);
      expect(workflow.start.callCount).to.equal(2);
    });
  });

  describe("CORS", () => {
    it("omits Allow-Origin for an origin that is not allowed, keeps Vary", async () => {
      const res = await post(VALID_BODY, { origin: "https://evil.example" });
      expect(res.headers).not.to.have.property("Access-Control-Allow-Origin");
      expect(res.headers).to.include({ Vary: "Origin" });
    });

    it('answers "*" when configured "*" (also on errors)', async () => {
      deps.allowedOrigins = "*";
      const res = await postRaw("nope", { origin: "https://any.example" });
      expect(res.statusCode).to.equal(400);
      expect(res.headers).to.include({ "Access-Control-Allow-Origin": "*", Vary: "Origin" });
    });
  });
});
