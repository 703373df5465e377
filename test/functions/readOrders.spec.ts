import { expect } from "chai";
import * as sinon from "sinon";
import { getOrderHandler } from "../../functions/getOrder";
import {
  buildListCursorSchemas,
  decodeNextToken,
  encodeNextToken,
  listOrdersHandler,
} from "../../functions/listOrders";
import type { Order } from "../../functions/shared/types";
import { apiEvent, parseBody } from "./http";
import { captureLogger, fakeOrderStore, makeOrder, ORDER_ID, type FakeOrderStore } from "./support";

describe("get_order", () => {
  let orders: FakeOrderStore;
  beforeEach(() => {
    orders = fakeOrderStore([
      makeOrder({
        status: "FAILED",
        failure: { reason: "PaymentDeclined", refunded: false, restocked: true },
      }),
    ]);
    sinon.spy(orders, "get");
  });
  afterEach(() => sinon.restore());

  const get = (orderId: string | undefined) =>
    getOrderHandler({ orders, allowedOrigins: "*", log: captureLogger() })(
      apiEvent({ pathParameters: orderId === undefined ? null : { orderId } }),
    );

  it("200 with the order view (failure included, no customer or token), consistent read", async () => {
    const res = await get(ORDER_ID);
    expect(res.statusCode).to.equal(200);
    const body = parseBody(res);
    expect(body).to.deep.equal({
      orderId: ORDER_ID,
      status: "FAILED",
      items: makeOrder().items,
      total: { amount: 3000, currency: "USD" },
      createdAt: makeOrder().createdAt,
      updatedAt: makeOrder().updatedAt,
      failure: { reason: "PaymentDeclined", refunded: false, restocked: true },
    });
    expect((orders.get as sinon.SinonSpy).calledOnceWithExactly(ORDER_ID, { consistent: true })).to.equal(
      true,
    );
    expect(res.headers).to.include({ "Access-Control-Allow-Origin": "*" });
  });

  it("404 NotFound for an unknown id", async () => {
    const res = await get("00000000-0000-4000-8000-000000000000");
    expect(res.statusCode).to.equal(404);
    expect(parseBody(res)).to.deep.equal({ error: "NotFound" });
  });

  for (const bad of ["not-a-uuid", "3f2a1c9e-8b7d-4e6f-a5b4-c3d2e1f0a9b8x", "../etc"]) {
    it(`400 naming pathParameters.orderId for "${bad}", no read`, async () => {
      const res = await get(bad);
      expect(res.statusCode).to.equal(400);
      expect(parseBody(res)).to.include({ error: "ValidationError" });
      expect((parseBody(res).issues as { path: string }[])[0].path).to.equal("pathParameters.orderId");
      expect((orders.get as sinon.SinonSpy).called).to.equal(false);
    });
  }

  it("400 when the path parameter is missing", async () => {
    const res = await get(undefined);
    expect(res.statusCode).to.equal(400);
    expect(parseBody(res).issues).to.deep.equal([{ path: "pathParameters.orderId", message: "is required" }]);
  });

  it("500 without details when the store fails", async () => {
    sinon.restore();
    orders.get = sinon.stub().rejects(new Error("boom at /var/task/index.js"));
    const res = await get(ORDER_ID);
    expect(res.statusCode).to.equal(500);
    expect(parseBody(res)).to.deep.equal({ error: "InternalError" });
  });
});

describe("list_orders", () => {
  let orders: FakeOrderStore;
  const ids = Array.from({ length: 5 }, (_, i) => `0000000${i}-0000-4000-8000-000000000000`);
  beforeEach(() => {
    orders = fakeOrderStore(
      ids.map((orderId, i): Order =>
        makeOrder({ orderId, status: i % 2 ? "PAID" : "NEW", createdAt: `2026-01-0${i + 1}T00:00:00.000Z` }),
      ),
    );
    sinon.spy(orders, "list");
  });
  afterEach(() => sinon.restore());

  const list = (query: Record<string, string> | null) =>
    listOrdersHandler({ orders, allowedOrigins: ["https://shop.example"], log: captureLogger() })(
      apiEvent({ queryStringParameters: query }),
    );
  const listCall = () => (orders.list as sinon.SinonSpy).firstCall.args[0];

  it("newest first, default limit 20, no nextToken at the end", async () => {
    const res = await list(null);
    expect(res.statusCode).to.equal(200);
    const body = parseBody(res);
    expect((body.items as Order[]).map((o) => o.orderId)).to.deep.equal([...ids].reverse());
    expect(body).not.to.have.property("nextToken");
    expect(listCall()).to.deep.equal({ status: undefined, limit: 20, startKey: undefined });
    expect(JSON.stringify(body)).not.to.match(/paymentToken|customer/);
  });

  it("pages with an opaque nextToken until the end", async () => {
    const first = parseBody(await list({ limit: "2" }));
    expect(first.items as Order[]).to.have.length(2);
    expect(first.nextToken)
      .to.be.a("string")
      .and.match(/^[A-Za-z0-9_-]+$/);
    const second = parseBody(await list({ limit: "2", nextToken: first.nextToken as string }));
    const third = parseBody(await list({ limit: "2", nextToken: second.nextToken as string }));
    const seen = [first, second, third].flatMap((p) => (p.items as Order[]).map((o) => o.orderId));
    expect(seen).to.deep.equal([...ids].reverse());
    expect(third).not.to.have.property("nextToken");
  });

  it("filters by status (byStatus index) and keeps the status in the token", async () => {
    const first = parseBody(await list({ status: "PAID", limit: "1" }));
    expect((first.items as Order[]).map((o) => o.status)).to.deep.equal(["PAID"]);
    expect(listCall()).to.include({ status: "PAID", limit: 1 });
    const cursor = decodeNextToken(first.nextToken as string, buildListCursorSchemas()("PAID"));
    expect(cursor).to.include({ status: "PAID" });
    // The same token cannot be used for another listing.
    const res = await list({ nextToken: first.nextToken as string });
    expect(res.statusCode).to.equal(400);
    const otherStatus = await list({ status: "NEW", nextToken: first.nextToken as string });
    expect(otherStatus.statusCode).to.equal(400);
  });

  const bad: [string, Record<string, string>, string][] = [
    ["limit 0", { limit: "0" }, "queryStringParameters.limit"],
    ["limit 101", { limit: "101" }, "queryStringParameters.limit"],
    ["limit abc", { limit: "abc" }, "queryStringParameters.limit"],
    ["limit 1.5", { limit: "1.5" }, "queryStringParameters.limit"],
    ["unknown status", { status: "SHIPPED" }, "queryStringParameters.status"],
    ["unknown parameter", { sort: "asc" }, "queryStringParameters.sort"],
    ["nextToken not base64url", { nextToken: "a+b/c=" }, "queryStringParameters.nextToken"],
    [
      "nextToken not JSON",
      { nextToken: Buffer.from("{oops").toString("base64url") },
      "queryStringParameters.nextToken",
    ],
    [
      "nextToken with an extra key",
      {
        nextToken: encodeNextToken({
          orderId: ORDER_ID,
          createdAt: "2026-01-01T00:00:00.000Z",
          entity: "ORDER",
          x: "1",
        }),
      },
      "queryStringParameters.nextToken",
    ],
    [
      "nextToken with a bad orderId",
      {
        nextToken: encodeNextToken({ orderId: "x", createdAt: "2026-01-01T00:00:00.000Z", entity: "ORDER" }),
      },
      "queryStringParameters.nextToken",
    ],
    [
      "nextToken with a bad createdAt",
      { nextToken: encodeNextToken({ orderId: ORDER_ID, createdAt: "yesterday", entity: "ORDER" }) },
      "queryStringParameters.nextToken",
    ],
    [
      "nextToken of a status listing used without status",
      {
        nextToken: encodeNextToken({
          orderId: ORDER_ID,
          createdAt: "2026-01-01T00:00:00.000Z",
          status: "NEW",
        }),
      },
      "queryStringParameters.nextToken",
    ],
    ["nextToken too long", { nextToken: "A".repeat(2049) }, "queryStringParameters.nextToken"],
  ];
  for (const [title, query, path] of bad) {
    it(`400 for ${title}, no query`, async () => {
      const res = await list(query);
      expect(res.statusCode).to.equal(400);
      const body = parseBody(res);
      expect(body.error).to.equal("ValidationError");
      expect((body.issues as { path: string }[]).map((i) => i.path)).to.include(path);
      expect((orders.list as sinon.SinonSpy).called).to.equal(false);
    });
  }
});
