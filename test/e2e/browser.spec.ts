/**
 * The browser client (web/) in a real browser against the offline system: Debian's Chromium
 * through playwright-core, every call cross-origin, so what passes here is what CORS lets a page
 * do with the dev stack's own settings (Pulumi.dev.yaml, captured like every e2e spec).
 * One browser for the whole file; screenshots land in .orderflow/artifacts.
 */
import { UpdateItemCommand } from "@aws-sdk/client-dynamodb";
import { expect } from "chai";
import * as fs from "node:fs";
import * as path from "node:path";
import type { Page } from "playwright-core";
import type { OrderView } from "../../functions/shared/types";
import {
  allowedOriginsOf,
  catalogueOf,
  CONTENT_SECURITY_POLICY,
  DEFAULT_WEB_PORT,
  startWebServer,
  webBanner,
  type WebServer,
} from "../../local/web";
import {
  ARTIFACTS_DIR,
  launchChromium,
  startOriginProxy,
  type Browser,
  type OriginProxy,
} from "./support/browser";
import { call, orderBody, placeOrder, sleep, useOfflineSystem, waitForTerminal } from "./support/offline";

/** How long the page waits for failure.compensatedAt before it stops following (web/app.js). */
const COMPENSATION_WAIT_MS = Number(
  /const COMPENSATION_WAIT_MS = ([\d_]+);/
    .exec(fs.readFileSync(path.join(__dirname, "..", "..", "web", "app.js"), "utf8"))?.[1]
    .replace(/_/g, ""),
);

/** The origin `npm start` serves the page on, which the dev stack must allow. */
const PAGE = `http://localhost:${DEFAULT_WEB_PORT}`;
/** The same page one port over: an origin the dev stack does not allow. */
const OTHER = `http://localhost:${DEFAULT_WEB_PORT + 1}`;

describe("browser client in Chromium (real CORS)", function () {
  this.timeout(60_000);
  // Usage-plan throttling on, as deployed: the 429 test needs it.
  const running = useOfflineSystem({ throttle: true });
  let web: WebServer;
  let proxy: OriginProxy;
  let browser: Browser;
  let page: Page;
  const pageErrors: string[] = [];

  before(async function () {
    const system = running();
    web = await startWebServer({ catalogue: catalogueOf(system.topology, system.tables.inventory) });
    const served = `http://127.0.0.1:${web.port}`;
    proxy = await startOriginProxy({ [PAGE]: served, [OTHER]: served });
    browser = await launchChromium(proxy.url);
    page = await browser.context.newPage();
    // Fail fast on a missing element; waits for an order to settle say their own.
    page.setDefaultTimeout(10_000);
    page.on("pageerror", (err) => pageErrors.push(err.message));
  });
  after(async () => {
    await browser?.close();
    await proxy?.stop();
    await web?.stop();
  });
  afterEach(async function () {
    if (this.currentTest?.state === "failed" && page) {
      fs.mkdirSync(ARTIFACTS_DIR, { recursive: true });
      const name = (this.currentTest.title.replace(/[^a-z0-9]+/gi, "-") + ".failed.png").slice(-100);
      await page.screenshot({ path: path.join(ARTIFACTS_DIR, name), fullPage: true }).catch(() => undefined);
    }
    // An exception inside the page is a bug even when the test's own checks passed.
    expect(pageErrors.splice(0), "uncaught errors in the page").to.deep.equal([]);
  });

  /** Opens the page on `origin` with the API URL in its fragment (as `npm start` prints it) and saves the key. */
  async function openPage(origin: string) {
    const system = running();
    // A fresh document each time: a link that differs only in its fragment would not reload it.
    await page.goto("about:blank");
    await page.goto(`${origin}/#api=${system.url}`);
    expect(await page.inputValue("#api-url")).to.equal(system.url);
    expect(await page.evaluate("location.hash"), "the fragment is dropped once read").to.equal("");
    await page.fill("#api-key", system.apiKey);
    await page.click("#settings button[type=submit]");
  }

  const text = async (selector: string) => (await page.locator(selector).textContent())?.trim() ?? "";

  async function fillOrder(email: string, token: string) {
    await page.fill("#email", email);
    await page.check(`input[name=token][value=${token}]`);
  }

  /** Places the form's order and waits until tracking shows a final status. */
  async function placeAndSettle(): Promise<{ orderId: string; status: string }> {
    await page.click("#place");
    await page
      .locator(
        "#track-status[data-status=COMPLETED], #track-status[data-status=FAILED], #order-error:not([hidden])",
      )
      .waitFor({ timeout: 30_000 });
    if (await page.locator("#order-error").isVisible())
      throw new Error(`the page says: ${await text("#order-error")}`);
    return { orderId: await text("#track-id"), status: await text("#track-status") };
  }

  it("is served on the origin the dev stack allows, with its own headers and nothing else from web/", async () => {
    const system = running();
    const allowed = allowedOriginsOf(system.topology);
    expect(allowed, "Pulumi.dev.yaml orderflow:allowedOrigins").to.include(PAGE).and.not.include("*");
    expect(allowed).to.not.include(OTHER);
    expect(webBanner({ origin: PAGE }, system.url, allowed).join("\n"))
      .to.include(`${PAGE}/#api=${system.url}`)
      .and.not.include("WARNING");
    expect(webBanner({ origin: OTHER }, system.url, allowed).join("\n")).to.include(
      `WARNING   ${OTHER} is not in orderflow:allowedOrigins`,
    );

    const base = `http://127.0.0.1:${web.port}`;
    const index = await fetch(`${base}/`);
    expect(index.status).to.equal(200);
    expect(index.headers.get("content-type")).to.match(/^text\/html/);
    expect(index.headers.get("content-security-policy")).to.equal(CONTENT_SECURITY_POLICY);
    expect((await fetch(`${base}/app.js`)).headers.get("content-type")).to.match(/^text\/javascript/);
    const catalogue = (await (await fetch(`${base}/catalogue.json`)).json()) as { sku: string }[];
    expect(catalogue.map((c) => c.sku)).to.deep.equal(
      catalogueOf(system.topology, system.tables.inventory).map((c) => c.sku),
    ).and.not.be.empty;
    for (const p of ["/tsconfig.json", "/..%2Fpackage.json", "/../package.json", "/%2e%2e/README.md"])
      expect((await fetch(`${base}${p}`)).status, p).to.equal(404);
    expect((await fetch(`${base}/`, { method: "POST" })).status).to.equal(405);
  });

  it("places an order that reaches COMPLETED, reads its Location, and saves a screenshot", async () => {
    await openPage(PAGE);
    const firstSku = await page.inputValue("#items input[name=sku]");
    expect(firstSku, "first SKU from catalogue.json").to.equal(
      catalogueOf(running().topology, running().tables.inventory)[0].sku,
    );
    await fillOrder("ada@example.com", "tok_visa");
    const { orderId, status } = await placeAndSettle();
    expect(status).to.equal("COMPLETED");
    expect(
      await text("#track-location"),
      "Location, readable through Access-Control-Expose-Headers",
    ).to.equal(`/orders/${orderId}`);
    expect(await text("#announce")).to.equal(`Order ${orderId}: COMPLETED`);
    expect(await page.locator("#track-note").count(), "nothing left to follow").to.equal(0);

    const truth = await call<OrderView>(running(), "GET", `/orders/${orderId}`);
    expect(truth.json.status).to.equal("COMPLETED");
    // The browser asked the API itself (no interception answered the preflight for it).
    const preflight = proxy.seen.find((r) => r.method === "OPTIONS" && r.origin === PAGE);
    expect(preflight, "the API's own preflight answer").to.deep.include({
      url: `${running().url}/orders`,
      status: 204,
      allowOrigin: PAGE,
    });

    fs.mkdirSync(ARTIFACTS_DIR, { recursive: true });
    const shot = path.join(ARTIFACTS_DIR, "browser-order-completed.png");
    await page.screenshot({ path: shot, fullPage: true });
    expect(fs.statSync(shot).size).to.be.greaterThan(10_000);
  });

  it("works from the keyboard alone: labelled controls, a visible focus, the outcome announced", async () => {
    await openPage(PAGE);
    const unlabelled = await page.evaluate(
      `[...document.querySelectorAll("input, select")].filter((e) => e.labels.length === 0).map((e) => e.id)`,
    );
    expect(unlabelled, "controls without a <label>").to.deep.equal([]);
    const unnamed = await page.evaluate(
      `[...document.querySelectorAll("button")].filter((b) => !(b.getAttribute("aria-label") || b.textContent.trim())).length`,
    );
    expect(unnamed, "buttons without a name").to.equal(0);
    const focused = () =>
      page.evaluate(`({ id: document.activeElement.id, cls: document.activeElement.className,
        outline: getComputedStyle(document.activeElement).outlineStyle })`) as Promise<
        Record<string, string>
      >;

    await page.reload(); // the settings stay; the focus starts at the top again
    await page.keyboard.press("Tab");
    expect(await focused()).to.include({ cls: "skip", outline: "solid" });
    await page.keyboard.press("Enter");
    await page.keyboard.press("Tab");
    expect(await focused(), "the skip link leads to the order form").to.include({
      id: "email",
      outline: "solid",
    });
    await page.keyboard.type("kay@example.com");
    await page.keyboard.press("Enter");
    await page.locator("#announce:has-text('COMPLETED')").waitFor({ timeout: 30_000 });
    expect(await page.getAttribute("#announce", "aria-live")).to.equal("polite");
  });

  it("shows a declined order FAILED with its reason and what compensation did", async () => {
    await openPage(PAGE);
    await fillOrder("bob@example.com", "tok_decline");
    const { orderId, status } = await placeAndSettle();
    expect(status).to.equal("FAILED");
    expect(await text("#track-reason")).to.equal("PaymentDeclined");
    expect(await text("#announce")).to.include(`Order ${orderId}: FAILED, PaymentDeclined`);
    // FAILED comes first, the refund and restock flags as compensation does them: the page
    // keeps following until the API says compensation is final, then shows what it records.
    const truth = await waitForTerminal(running(), orderId);
    expect(truth.failure?.reason).to.equal("PaymentDeclined");
    expect(truth.failure?.compensatedAt).to.be.a("string");
    await page.locator("#track-compensation[data-state=final]").waitFor({ timeout: 10_000 });
    const flag = (v: boolean | undefined) => (v ? "yes" : "no");
    await page
      .locator(`#track-refunded:text-is("${flag(truth.failure?.refunded)}")`)
      .waitFor({ timeout: 10_000 });
    await page
      .locator(`#track-restocked:text-is("${flag(truth.failure?.restocked)}")`)
      .waitFor({ timeout: 10_000 });
  });

  it("follows a FAILED order until failure.compensatedAt (not until its flags look done), then stops", async () => {
    const system = running();
    expect(COMPENSATION_WAIT_MS, "web/app.js COMPENSATION_WAIT_MS").to.be.greaterThan(30_000);
    const { orderId } = await placeOrder(system, [{ sku: "SKU-3", quantity: 1 }], "tok_decline");
    const compensatedAt = (await waitForTerminal(system, orderId)).failure?.compensatedAt;
    expect(compensatedAt, "the API's own compensatedAt").to.be.a("string");
    // Held back, the order reads as it does while compensate_order still runs: FAILED, the stock
    // already back, refunded false, no compensatedAt. Flags that look final, and are not yet.
    const setCompensatedAt = (at: string | undefined) =>
      system.dynamo.client.send(
        new UpdateItemCommand({
          TableName: system.tables.orders,
          Key: { orderId: { S: orderId } },
          UpdateExpression: at ? "SET failure.compensatedAt = :at" : "REMOVE failure.compensatedAt",
          ...(at ? { ExpressionAttributeValues: { ":at": { S: at } } } : {}),
        }),
      );
    await setCompensatedAt(undefined);
    const gets = () =>
      proxy.seen.filter((r) => r.method === "GET" && r.url === `${system.url}/orders/${orderId}`).length;
    /** The page asks for the order `n` more times: it is still following. */
    async function moreGets(n: number, what: string) {
      const target = gets() + n;
      for (const end = Date.now() + 15_000; gets() < target; await sleep(50))
        if (Date.now() > end) throw new Error(`the page stopped following the order ${what}`);
    }
    /** The clock jumps by `ms`; a page still following would ask once more, and none does. */
    async function noMoreGets(ms: number) {
      const before = gets();
      await page.clock.fastForward(ms);
      await sleep(500);
      expect(gets() - before, "requests after the page stopped").to.equal(0);
    }

    // The page's own clock, so the fallback can be reached without waiting for it.
    await page.clock.install();
    await openPage(PAGE);
    await page.selectOption("#status-filter", "FAILED");
    await page.click("#list-controls button[type=submit]");
    await page.click(`#orders tr[data-order-id="${orderId}"] button`);
    await page.locator(`#track-id:text-is("${orderId}")`).waitFor();
    await page.locator("#track-compensation[data-state=running]").waitFor();
    expect(await text("#track-restocked")).to.equal("yes");
    expect(await text("#track-refunded")).to.equal("no");
    await moreGets(2, "with FAILED and the stock back");
    // Most of the fallback later: the page still follows (it polled, then polled again).
    await page.clock.fastForward(COMPENSATION_WAIT_MS - 15_000);
    await moreGets(2, `before its ${COMPENSATION_WAIT_MS} ms fallback`);
    expect(await page.getAttribute("#track-compensation", "data-state")).to.equal("running");

    await setCompensatedAt(compensatedAt);
    await page.clock.fastForward(3_000); // the next poll now, not in up to 3 s
    await page.locator("#track-compensation[data-state=final]").waitFor();
    expect(await text("#track-compensation")).to.match(/^final \(.+\)$/);
    expect(await text("#track-note")).to.include("Compensation final");
    expect(await text("#announce")).to.equal(
      `Order ${orderId}: FAILED, PaymentDeclined, restocked, compensation final`,
    );
    await noMoreGets(10_000);

    // compensatedAt that never comes: the page stops after the fallback, says so, and offers to go on.
    await setCompensatedAt(undefined);
    await page.click(`#orders tr[data-order-id="${orderId}"] button`);
    await page.locator("#track-compensation[data-state=running]").waitFor();
    await page.clock.fastForward(COMPENSATION_WAIT_MS + 5_000);
    await page.locator("#track-compensation[data-state=unconfirmed]").waitFor();
    expect(await text("#track-note")).to.include("Compensation not confirmed");
    expect(await text("#announce")).to.include("compensation not confirmed");
    await noMoreGets(10_000);
    await setCompensatedAt(compensatedAt);
    await page.click("#track-again");
    await page.locator("#track-compensation[data-state=final]").waitFor();
  });

  it("lists orders newest first, pages with More through the cursor, and filters by status", async () => {
    const system = running();
    const placed: OrderView[] = [];
    for (const token of ["tok_visa", "tok_decline", "tok_visa", "tok_visa", "tok_decline", "tok_visa"])
      placed.push(await placeOrder(system, [{ sku: "SKU-3", quantity: 1 }], token));
    // Settled first, so the FAILED filter below and the API agree on what it holds.
    await Promise.all(placed.map((o) => waitForTerminal(system, o.orderId)));
    const all = (await call<{ items: OrderView[] }>(system, "GET", "/orders?limit=100")).json.items;
    expect(all.length).to.be.greaterThan(5);

    await openPage(PAGE);
    await page.selectOption("#page-size", "5");
    await page.click("#list-controls button[type=submit]");
    const rows = () =>
      page
        .locator("#orders tbody tr")
        .evaluateAll((trs) => trs.map((tr) => tr.getAttribute("data-order-id")));
    await page.locator("#orders tbody tr").nth(4).waitFor();
    expect(await rows()).to.deep.equal(all.slice(0, 5).map((o) => o.orderId));
    // Bounded: a page that lost the cursor would offer More for ever.
    let pages = 1;
    while (pages <= Math.ceil(all.length / 5) && (await page.locator("#more").isVisible())) {
      await page.click("#more");
      pages++;
      await page
        .locator("#orders tbody tr")
        .nth(Math.min(all.length, pages * 5) - 1)
        .waitFor();
    }
    expect(await rows(), "every order once, newest first").to.deep.equal(all.map((o) => o.orderId));
    expect(pages).to.equal(Math.ceil(all.length / 5));
    expect(await text("#list-summary")).to.equal(`${all.length} orders shown.`);

    // Any listed order can be followed.
    const last = all[all.length - 1];
    await page.click(`#orders tr[data-order-id="${last.orderId}"] button`);
    await page.locator(`#track-id:text-is("${last.orderId}")`).waitFor();
    await page.locator(`#track-status[data-status="${last.status}"]`).waitFor();

    const failed = (await call<{ items: OrderView[] }>(system, "GET", "/orders?status=FAILED&limit=100")).json
      .items;
    expect(failed.length).to.be.greaterThan(1);
    await page.selectOption("#status-filter", "FAILED");
    await page.click("#list-controls button[type=submit]");
    await page.locator(`#list-summary:text("${failed.length} order")`).waitFor();
    expect(await rows()).to.deep.equal(failed.map((o) => o.orderId));
  });

  it("shows a 400's field paths, a 422's SKUs and a refused key's advice, focusing the message", async () => {
    await openPage(PAGE);
    const errorText = async () => {
      await page.locator("#order-error:not([hidden])").waitFor();
      expect(
        await page.evaluate("document.activeElement && document.activeElement.id"),
        "focus moves to the message",
      ).to.equal("order-error");
      const t = await text("#order-error");
      await page.locator("#order-error").evaluate((box) => box.setAttribute("hidden", ""));
      return t;
    };

    // The gateway's request validator (BAD_REQUEST_BODY response): fields named in its message.
    await fillOrder("not-an-address", "tok_visa");
    await page.fill("#items input[name=quantity]", "0");
    await page.click("#place");
    const gateway = await errorText();
    expect(gateway).to.include("The API refused the order: fix these fields (HTTP 400)");
    expect(gateway).to.include("customer.email").and.include("items.0.quantity");

    // The handler's own check (distinct SKUs has no JSON Schema form): a path per issue.
    await fillOrder("ada@example.com", "tok_visa");
    await page.fill("#items input[name=quantity]", "1");
    await page.click("#add-item");
    await page.keyboard.type(await page.inputValue("#items input[name=sku]"));
    await page.click("#place");
    expect(await errorText())
      .to.include("(HTTP 400)")
      .and.include("items: skus must be distinct");

    await page.fill("#items li:nth-child(2) input[name=sku]", "NO-SUCH-SKU");
    await page.click("#place");
    const unknown = await errorText();
    expect(unknown).to.include("Unknown SKUs (HTTP 422)").and.include("NO-SUCH-SKU");
    expect(unknown).to.include("Pick SKUs from the catalogue");

    await page.fill("#api-key", "wrong-key");
    await page.click("#place");
    const refused = await errorText();
    expect(refused).to.include("The API key was refused (HTTP 403)").and.include("Forbidden");
    expect(refused).to.include("npm start` prints it");
  });

  /**
   * Runs `body` in the page with the page's own modules in scope (`api`: a client with the saved
   * settings, `describe`: the page's error wording). A string, so the spec's compiler leaves the
   * dynamic imports alone.
   */
  async function withPageModules<T>(body: string, arg: unknown): Promise<T> {
    return (await page.evaluate(`(async (arg) => {
      const { createClient, newIdempotencyKey } = await import("/api.js");
      const { describeError } = await import("/errors.js");
      const api = createClient({ baseUrl: ${JSON.stringify(running().url)}, apiKey: ${JSON.stringify(running().apiKey)} });
      const describe = (e) => e && { status: e.status, body: e.body, ...describeError(e, { origin: location.origin }) };
      ${body}
    })(${JSON.stringify(arg)})`)) as T;
  }
  type Described = { status: number; body: unknown; title: string; action: string };

  it("reads a 409 and a 429 in the page with what to do", async () => {
    const system = running();
    await openPage(PAGE);
    // No form path leads to a 409 (the page makes a new key per body), so the page's client does.
    const conflict = await withPageModules<Described>(
      `const key = newIdempotencyKey();
      await api.placeOrder(arg.first, key);
      return describe(await api.placeOrder(arg.second, key).then(() => undefined, (e) => e));`,
      {
        first: orderBody([{ sku: "SKU-3", quantity: 1 }]),
        second: orderBody([{ sku: "SKU-3", quantity: 2 }]),
      },
    );
    expect(conflict).to.include({ status: 409 });
    expect(conflict.body).to.deep.equal({ error: "IdempotencyConflict" });
    expect(conflict.action).to.include("new key");

    // The usage plan's bucket (per key) is kept empty from here, faster than it refills, while
    // the page asks: its requests meet the gateway's 429, whatever the browser's own pace.
    // Empty bodies: counted against the plan, then refused by the validator without a Lambda.
    let pageDone = false;
    const fromPage = withPageModules<Described | undefined>(
      `for (let i = 0; i < 200; i++) {
        const e = await api.placeOrder({}, newIdempotencyKey()).then(() => undefined, (e) => e);
        if (e && (e.status === 429 || e.name === "NetworkError")) return describe(e);
      }`,
      {},
    );
    void fromPage.finally(() => (pageDone = true)).catch(() => undefined);
    while (!pageDone)
      await Promise.all(
        Array.from({ length: 40 }, () =>
          call(system, "POST", "/orders", { rawBody: "{}", headers: { "content-type": "application/json" } }),
        ),
      );
    const throttled = await fromPage;
    expect(throttled, "a 429 read by the page").to.include({ status: 429 });
    expect(throttled!.body).to.deep.equal({ message: "Too Many Requests" });
    expect(throttled!.action).to.include("Wait a few seconds and retry");
    // Burst 40 at 20 a second (Pulumi.dev.yaml): full again for whatever runs next.
    await new Promise((resolve) => setTimeout(resolve, 2000));
  });

  it("on an origin the API does not allow, the browser blocks every answer, even the gateway's own", async () => {
    const system = running();
    await openPage(OTHER);
    await page.click("#list-controls button[type=submit]");
    await page.locator("#list-error:not([hidden])").waitFor();
    const shown = await text("#list-error");
    expect(shown).to.include("No readable answer from the API").and.include(`origin (${OTHER})`);
    expect(shown).to.include("orderflow:allowedOrigins");

    const from = proxy.seen.length;
    const outcomes = await page.evaluate(
      async ({ url, key }) => {
        const attempt = (init: RequestInit) =>
          fetch(`${url}/orders`, init).then(
            (r) => `read ${r.status}`,
            (e: Error) => e.name,
          );
        return {
          // Preflighted (a custom header): the API's preflight must not name this origin.
          keyed: await attempt({ headers: { "x-api-key": key } }),
          order: await attempt({
            method: "POST",
            headers: { "x-api-key": key, "content-type": "application/json", "Idempotency-Key": "k-1" },
            body: "{}",
          }),
          // Simple requests (no preflight): the gateway's 403 must not name it either.
          simpleGet: await attempt({}),
          simplePost: await attempt({
            method: "POST",
            body: "{}",
            headers: { "content-type": "text/plain" },
          }),
        };
      },
      { url: system.url, key: system.apiKey },
    );
    expect(outcomes).to.deep.equal({
      keyed: "TypeError",
      order: "TypeError",
      simpleGet: "TypeError",
      simplePost: "TypeError",
    });
    // The requests reached the API and it answered: the browser, not the network, refused them.
    const answers = proxy.seen.slice(from).filter((s) => s.origin === OTHER);
    expect(answers.map((s) => `${s.method} ${s.status}`)).to.include.members([
      "OPTIONS 204",
      "GET 403",
      "POST 403",
    ]);
    for (const s of answers) expect(s.allowOrigin, `${s.method} ${s.url}`).to.not.be.oneOf([OTHER, "*"]);
  });
});
