/**
 * The order system end to end, offline: the program's topology, the real handlers, the real
 * state-machine definition, over real HTTP. Short timings (support/offline.ts E2E_TIMINGS).
 */
import { expect } from "chai";
import { DeleteMessageCommand, ReceiveMessageCommand } from "@aws-sdk/client-sqs";
import type { OfflineSystem } from "../../local/system";
import type { OrderView } from "../../functions/shared/types";
import {
  call,
  items,
  orderBody,
  placeOrder,
  sleep,
  startForTest,
  stockOf,
  tableCounts,
  useOfflineSystem,
  waitForTerminal,
} from "./support/offline";
import { ENV } from "../../functions/shared/settings";

const CATALOGUE = [
  { sku: "SKU-A", name: "A", price: 1000, stock: 100 },
  { sku: "SKU-B", name: "B", price: 250, stock: 100 },
  { sku: "SKU-LOW", name: "Low", price: 500, stock: 1 },
  { sku: "SKU-LIST", name: "List", price: 100, stock: 100 },
];

interface LedgerRow {
  orderId: string;
  entry: "CHARGE" | "REFUND" | "DECLINE";
  amount: number;
}

describe("offline order system, end to end over HTTP", function () {
  this.timeout(60_000);
  const running = useOfflineSystem({ catalogue: CATALOGUE });
  let system: OfflineSystem;
  beforeEach(() => (system = running()));

  const ledgerOf = async (orderId: string) =>
    (await items<LedgerRow>(system, system.tables.payments)).filter((r) => r.orderId === orderId);

  it("fails the start, naming the function and the setting, when a function lacks a setting", async () => {
    const functions = system.topology.functions.map((f) =>
      f.handler === "createOrder"
        ? {
            ...f,
            environment: Object.fromEntries(
              Object.entries(f.environment).filter(([k]) => k !== ENV.ordersTable),
            ),
          }
        : f,
    );
    const target = functions.find((f) => f.handler === "createOrder");
    expect(target, "createOrder in the topology").to.not.equal(undefined);
    let error: Error | undefined;
    await startForTest({ topology: { ...system.topology, functions } }).then(
      (s) => s.stop(),
      (e: Error) => (error = e),
    );
    expect(error?.name).to.equal("MissingSettingError");
    expect(error?.message).to.include(target!.name).and.include(ENV.ordersTable);
  });

  it("creates an order that reaches COMPLETED, charged once, stock taken, customer notified", async () => {
    const before = await stockOf(system, "SKU-A");
    const r = await call<OrderView>(system, "POST", "/orders", {
      body: orderBody([
        { sku: "SKU-A", quantity: 2 },
        { sku: "SKU-B", quantity: 1 },
      ]),
    });
    expect(r.status).to.equal(201);
    expect(r.headers.get("location")).to.equal(`/orders/${r.json.orderId}`);
    expect(r.json).to.include({ status: "NEW" });
    expect(r.json.total).to.deep.equal({ amount: 2 * 1000 + 250, currency: "USD" });

    const done = await waitForTerminal(system, r.json.orderId);
    expect(done.status).to.equal("COMPLETED");
    expect(await stockOf(system, "SKU-A")).to.equal(before - 2);
    const ledger = await ledgerOf(r.json.orderId);
    expect(ledger.map((l) => [l.entry, l.amount])).to.deep.equal([["CHARGE", 2250]]);
    for (let i = 0; i < 50 && !system.sns.notifications.some((n) => n.message.includes(r.json.orderId)); i++)
      await sleep(100);
    expect(system.sns.notifications.some((n) => n.message.includes(r.json.orderId))).to.equal(true);
    const execution = [...system.sfn.executions.values()].find((e) => e.name === r.json.orderId)!;
    expect(execution.states).to.deep.equal(["ProcessPayment", "NotifyCustomer"]);
  });

  it("a declined payment ends FAILED, nothing charged (the decline recorded) and the stock restored", async () => {
    const before = await stockOf(system, "SKU-A");
    const order = await placeOrder(system, [{ sku: "SKU-A", quantity: 3 }], "tok_decline");
    const done = await waitForTerminal(system, order.orderId);
    expect(done.status).to.equal("FAILED");
    expect(done.failure).to.deep.include({ reason: "PaymentDeclined", refunded: false, restocked: true });
    expect(done.failure?.compensatedAt, "compensation finished").to.be.a("string");
    expect(await stockOf(system, "SKU-A")).to.equal(before);
    expect((await ledgerOf(order.orderId)).map((l) => l.entry)).to.deep.equal(["DECLINE"]);
  });

  it("no stock ends FAILED with nothing charged and the stock untouched", async () => {
    const order = await placeOrder(system, [{ sku: "SKU-LOW", quantity: 2 }]);
    const done = await waitForTerminal(system, order.orderId);
    expect(done.status).to.equal("FAILED");
    expect(done.failure?.reason).to.equal("OutOfStock");
    expect(done.failure?.refunded).to.equal(false);
    expect(await stockOf(system, "SKU-LOW")).to.equal(1);
    expect(await ledgerOf(order.orderId)).to.deep.equal([]);
  });

  it("a lost payment message times the callback out and compensates", async () => {
    const before = await stockOf(system, "SKU-B");
    for (const p of system.pollers) await p.pause();
    let order: OrderView;
    try {
      order = await placeOrder(system, [{ sku: "SKU-B", quantity: 1 }]);
      // Take the message out of the queue without processing it: a lost delivery.
      const url = system.sqs.urlOf(system.queues.work);
      let lost = false;
      for (let i = 0; i < 200 && !lost; i++) {
        const got = await system.sqs.client.send(
          new ReceiveMessageCommand({ QueueUrl: url, MaxNumberOfMessages: 1, WaitTimeSeconds: 0 }),
        );
        for (const m of got.Messages ?? []) {
          expect(m.Body).to.contain(order.orderId);
          await system.sqs.client.send(
            new DeleteMessageCommand({ QueueUrl: url, ReceiptHandle: m.ReceiptHandle }),
          );
          lost = true;
        }
        if (!lost) await sleep(50);
      }
      expect(lost, "the callback message was sent").to.equal(true);
    } finally {
      for (const p of system.pollers) p.resume();
    }
    const done = await waitForTerminal(system, order.orderId);
    expect(done.status).to.equal("FAILED");
    expect(done.failure).to.deep.include({ reason: "Timeout", refunded: false, restocked: false });
    expect(done.failure?.compensatedAt, "compensation finished").to.be.a("string");
    expect(await stockOf(system, "SKU-B")).to.equal(before);
    expect(await ledgerOf(order.orderId)).to.deep.equal([]);
  });

  it("a poison message (tok_fail) goes to the DLQ and the order still ends FAILED, compensated", async () => {
    const before = await stockOf(system, "SKU-B");
    const order = await placeOrder(system, [{ sku: "SKU-B", quantity: 4 }], "tok_fail");
    const dlqDepth = async () => {
      const d = await system.sqs.depth(system.queues.deadLetter);
      return d.visible + d.inFlight;
    };
    for (let i = 0; i < 300 && (await dlqDepth()) === 0; i++) await sleep(100);
    expect(await dlqDepth(), "the message reached the DLQ").to.equal(1);
    const done = await waitForTerminal(system, order.orderId, 45_000);
    expect(done.status).to.equal("FAILED");
    expect(done.failure?.reason).to.equal("Timeout");
    expect(done.failure?.refunded).to.equal(false);
    expect(await stockOf(system, "SKU-B")).to.equal(before);
    expect((await ledgerOf(order.orderId)).filter((l) => l.entry === "CHARGE")).to.deep.equal([]);
  });

  it("GET /orders lists newest first with a working cursor and a status filter", async () => {
    const placed: string[] = [];
    for (let i = 0; i < 3; i++) {
      placed.push((await placeOrder(system, [{ sku: "SKU-LIST", quantity: 1 }])).orderId);
      await sleep(5);
    }
    const seen: string[] = [];
    let token: string | undefined;
    let pages = 0;
    do {
      const r = await call<{ items: OrderView[]; nextToken?: string }>(
        system,
        "GET",
        `/orders?limit=2${token ? `&nextToken=${encodeURIComponent(token)}` : ""}`,
      );
      expect(r.status).to.equal(200);
      expect(r.json.items.length).to.be.at.most(2);
      seen.push(...r.json.items.map((o) => o.orderId));
      const dates = r.json.items.map((o) => o.createdAt);
      expect(dates).to.deep.equal([...dates].sort().reverse());
      token = r.json.nextToken;
      pages++;
    } while (token && pages < 50);
    expect(new Set(seen).size).to.equal(seen.length);
    // Newest first: the three just placed lead, in reverse order of creation.
    expect(seen.slice(0, 3)).to.deep.equal([...placed].reverse());
    expect(pages).to.be.greaterThan(1);

    for (const id of placed) await waitForTerminal(system, id);
    const completed = await call<{ items: OrderView[] }>(system, "GET", "/orders?status=COMPLETED&limit=100");
    expect(completed.status).to.equal(200);
    expect(completed.json.items.every((o) => o.status === "COMPLETED")).to.equal(true);
    expect(completed.json.items.map((o) => o.orderId)).to.include.members(placed);
  });

  it("answers 403 {message: Forbidden} with CORS headers for a missing or wrong API key", async () => {
    for (const apiKey of [null, "wrong-key"]) {
      for (const [method, path] of [
        ["GET", "/orders"],
        ["POST", "/orders"],
        ["GET", "/orders/00000000-0000-4000-8000-000000000000"],
      ]) {
        const r = await call(system, method, path, {
          apiKey,
          headers: { origin: "http://localhost:3000" },
          body: method === "POST" ? orderBody([{ sku: "SKU-A", quantity: 1 }]) : undefined,
        });
        expect(r.status, `${method} ${path} key=${apiKey}`).to.equal(403);
        expect(r.json).to.deep.equal({ message: "Forbidden" });
        expect(r.headers.get("access-control-allow-origin")).to.equal("http://localhost:3000");
      }
    }
  });

  it("answers 400 for bad bodies and writes nothing", async () => {
    const before = await tableCounts(system);
    const stock = await stockOf(system, "SKU-A");
    const bad: [string, string | undefined][] = [
      ["{", "application/json"],
      [JSON.stringify({ ...orderBody([{ sku: "SKU-A", quantity: 0 }]) }), "application/json"],
      [JSON.stringify({ ...orderBody([{ sku: "SKU-A", quantity: 1 }]), extra: true }), "application/json"],
      [
        JSON.stringify(
          orderBody([
            { sku: "SKU-A", quantity: 1 },
            { sku: "SKU-A", quantity: 2 },
          ]),
        ),
        "application/json",
      ],
      [JSON.stringify(orderBody([{ sku: "SKU-A", quantity: 1.5 }])), "application/json"],
      [
        JSON.stringify({
          customer: { email: "not-an-email" },
          items: [{ sku: "SKU-A", quantity: 1 }],
          payment: { token: "tok_visa" },
        }),
        "application/json",
      ],
      ["customer=ada", "text/plain"],
      [
        JSON.stringify({ ...orderBody([{ sku: "SKU-A", quantity: 1 }]), pad: "x".repeat(20_000) }),
        "text/plain",
      ],
    ];
    for (const [rawBody, type] of bad) {
      const r = await call<{ error: string; message: string }>(system, "POST", "/orders", {
        rawBody,
        headers: type ? { "content-type": type } : {},
      });
      expect(r.status, rawBody.slice(0, 80)).to.equal(400);
      expect(r.json.error, rawBody.slice(0, 80)).to.equal("ValidationError");
      expect(r.json.message).to.be.a("string").and.not.equal("");
    }
    const unknown = await call<{ error: string; skus: string[] }>(system, "POST", "/orders", {
      body: orderBody([{ sku: "NOPE-1", quantity: 1 }]),
    });
    expect(unknown.status).to.equal(422);
    expect(unknown.json).to.deep.equal({ error: "UnknownSku", skus: ["NOPE-1"] });
    expect(await tableCounts(system)).to.deep.equal(before);
    expect(await stockOf(system, "SKU-A")).to.equal(stock);
  });

  it("refuses a body over API Gateway's 10 MB limit with 413 before any handler runs", async () => {
    const r = await call<{ message: string }>(system, "POST", "/orders", {
      rawBody: Buffer.alloc(10 * 1024 * 1024 + 1, 97),
      headers: { "content-type": "application/json" },
    });
    expect(r.status).to.equal(413);
    expect(r.json).to.have.property("message").that.is.a("string");
  });

  it("answers the CORS preflight without a key, echoing only an allowed origin", async () => {
    const ok = await call(system, "OPTIONS", "/orders", {
      apiKey: null,
      headers: { origin: "http://localhost:3000", "access-control-request-method": "POST" },
    });
    expect(ok.status).to.equal(204);
    expect(ok.headers.get("access-control-allow-origin")).to.equal("http://localhost:3000");
    expect(ok.headers.get("access-control-allow-methods")).to.contain("POST");
    expect(ok.headers.get("access-control-allow-headers")?.toLowerCase()).to.contain("x-api-key");
    const other = await call(system, "OPTIONS", "/orders/abc", {
      apiKey: null,
      headers: { origin: "https://evil.example" },
    });
    expect(other.status).to.equal(204);
    expect(other.headers.get("access-control-allow-origin")).to.equal(null);
  });

  it("answers unknown routes like API Gateway and unknown orders with 404", async () => {
    const route = await call(system, "GET", "/nope");
    expect(route.status).to.equal(403);
    expect(route.json).to.deep.equal({ message: "Missing Authentication Token" });
    const method = await call(system, "DELETE", "/orders");
    expect(method.status).to.equal(403);
    const missing = await call(system, "GET", "/orders/00000000-0000-4000-8000-000000000000");
    expect(missing.status).to.equal(404);
    expect(missing.json).to.deep.equal({ error: "NotFound" });
  });

  it("makes POST /orders idempotent with Idempotency-Key (same body: same order; other body: 409)", async () => {
    const body = orderBody([{ sku: "SKU-B", quantity: 1 }]);
    const headers = { "idempotency-key": `key-${Date.now()}` };
    const first = await call<OrderView>(system, "POST", "/orders", { body, headers });
    const again = await call<OrderView>(system, "POST", "/orders", { body, headers });
    expect(first.status).to.equal(201);
    expect(again.status).to.equal(201);
    expect(again.json.orderId).to.equal(first.json.orderId);
    const conflict = await call(system, "POST", "/orders", {
      body: orderBody([{ sku: "SKU-B", quantity: 2 }]),
      headers,
    });
    expect(conflict.status).to.equal(409);
    expect(conflict.json).to.deep.equal({ error: "IdempotencyConflict" });
    expect((await waitForTerminal(system, first.json.orderId)).status).to.equal("COMPLETED");
    expect([...system.sfn.executions.values()].filter((e) => e.name === first.json.orderId)).to.have.length(
      1,
    );
  });
});
