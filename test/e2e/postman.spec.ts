/**
 * The Postman collection, run by newman (its Node API, through scripts/smoke.ts: the code
 * `npm run smoke` runs after a deploy) against the offline system on the dev stack's catalogue.
 * Then the same collection through a proxy that breaks one response per route: the run must fail
 * on exactly those assertions.
 */
import { expect } from "chai";
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { OfflineSystem } from "../../local/system";
import { FOLDERS } from "../../scripts/postman";
import { readCollection, runCollection, type RunResult } from "../../scripts/smoke";
import { items, stockOf, useOfflineSystem, waitForExecutions } from "./support/offline";

interface LedgerRow {
  orderId: string;
  entry: "CHARGE" | "REFUND" | "DECLINE";
}
interface StoredOrder {
  orderId: string;
  status: string;
}
interface Folder {
  name: string;
  item: { name: string; event: { listen: string; script: { exec: string[] } }[] }[];
}

/** `item :: test` for every pm.test in a test script (names are string literals). */
function declaredTests(collection: object): string[] {
  const folders = (collection as { item: Folder[] }).item;
  return folders.flatMap((f) =>
    f.item.flatMap((i) =>
      i.event
        // Pre-request scripts only assert when a chained variable is missing.
        .filter((e) => e.listen === "test")
        .flatMap((e) => e.script.exec)
        .flatMap((line) => [...line.matchAll(/pm\.test\(("(?:[^"\\]|\\.)*")/g)])
        .map((m) => `${i.name} :: ${JSON.parse(m[1]) as string}`),
    ),
  );
}

const key = (a: { item: string; test: string }) => `${a.item} :: ${a.test}`;

describe("the Postman collection, run by newman against the offline system", function () {
  this.timeout(120_000);
  // Only the API contract is under test here: the handlers' code packages are not needed.
  const running = useOfflineSystem({ skipCodePackaging: true });
  let system: OfflineSystem;
  let result: RunResult;
  let stockBefore: number;
  const collection = readCollection();

  before(async () => {
    system = running();
    stockBefore = await stockOf(system, "SKU-1");
    result = await runCollection({
      settings: { baseUrl: system.url, apiKey: system.apiKey, pollIntervalMs: "100", maxPolls: "200" },
    });
  });

  it("passes: more than 20 assertions, none failed, no script or request error", () => {
    expect(result.errors).to.deep.equal([]);
    expect(result.failed.map((f) => `${key(f)}: ${f.error}`)).to.deep.equal([]);
    expect(result.assertions.length).to.be.greaterThan(20);
  });

  it("ran every test the collection declares, in both folders", () => {
    const ran = new Set(result.assertions.map(key));
    const declared = declaredTests(collection);
    expect(declared.length).to.be.greaterThan(40);
    expect(declared.filter((t) => !ran.has(t))).to.deep.equal([]);
  });

  it("left what the smoke test says it leaves: 2 charged units of the SKU, 2 declines restocked, all orders terminal", async () => {
    await waitForExecutions(system);
    const ledger = await items<LedgerRow>(system, system.tables.payments);
    const entries = ledger.map((l) => l.entry).sort();
    expect(entries).to.deep.equal(["CHARGE", "CHARGE", "DECLINE", "DECLINE"]);
    expect(await stockOf(system, "SKU-1")).to.equal(stockBefore - 2);
    const orders = await items<StoredOrder>(system, system.tables.orders);
    expect(orders).to.have.length(4);
    expect(orders.map((o) => o.status).sort()).to.deep.equal(["COMPLETED", "COMPLETED", "FAILED", "FAILED"]);
  });

  it("a request run without the one that sets its id fails and is not sent (no GET /orders/)", async () => {
    const alone = await runCollection({
      settings: { baseUrl: system.url, apiKey: system.apiKey },
      folder: "GET /orders/{orderId}",
    });
    expect(alone.requests).to.equal(0);
    expect(alone.failed.map(key)).to.deep.equal([
      "GET /orders/{orderId} :: orderId is set by an earlier request",
    ]);
  });

  describe("a broken response fails the run", () => {
    let proxy: Server;
    let proxyUrl: string;

    /** Forwards to the offline API; breaks one thing in each route's success response. */
    before(async () => {
      proxy = createServer((req, res) => {
        void forward(req).then(
          ({ status, headers, body }) => {
            const route = `${req.method} ${req.url?.replace(/\?.*$/, "").replace(/[0-9a-f-]{36}$/, "{orderId}")}`;
            let text = body;
            if (route === "POST /orders") delete headers.location;
            if (route === "GET /orders") status = 500;
            if (route === "GET /orders/{orderId}") {
              const order = JSON.parse(body) as Record<string, unknown>;
              delete order.total;
              text = JSON.stringify(order);
            }
            res.writeHead(status, headers).end(text);
          },
          (err: Error) => res.writeHead(502).end(err.message),
        );
      });
      await new Promise<void>((resolve) => proxy.listen(0, "127.0.0.1", resolve));
      proxyUrl = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
    });
    after(() => new Promise<void>((resolve) => proxy.close(() => resolve())));

    async function forward(req: IncomingMessage) {
      const chunks: Buffer[] = [];
      for await (const c of req) chunks.push(c as Buffer);
      const headers = Object.fromEntries(
        Object.entries(req.headers).filter(
          ([k, v]) => typeof v === "string" && !["host", "connection", "content-length"].includes(k),
        ),
      ) as Record<string, string>;
      const r = await fetch(system.url + req.url, {
        method: req.method,
        headers,
        body: chunks.length ? Buffer.concat(chunks) : undefined,
      });
      const out: Record<string, string> = {};
      r.headers.forEach((value, name) => {
        if (!["content-length", "transfer-encoding", "connection", "keep-alive"].includes(name))
          out[name] = value;
      });
      return { status: r.status, headers: out, body: await r.text() };
    }

    it("fails exactly the assertions on the broken parts: Location, status, schema", async () => {
      const broken = await runCollection({
        settings: { baseUrl: proxyUrl, apiKey: system.apiKey },
        folder: FOLDERS.api,
      });
      expect(broken.errors).to.deep.equal([]);
      expect(broken.failed.map(key).sort()).to.deep.equal([
        "GET /orders :: status is 200",
        "GET /orders/{orderId} :: body matches the Order schema",
        "POST /orders :: Location is /orders/{orderId}",
      ]);
      expect(broken.failed.find((f) => f.item === "GET /orders/{orderId}")?.error).to.include("total");
      expect(broken.assertions.length).to.be.greaterThan(broken.failed.length);
    });
  });
});
