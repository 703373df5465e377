/**
 * The page: settings, the order form, live tracking and the order list. DOM wiring only; the
 * API calls are in api.js and the error wording in errors.js.
 */
import { ApiError, createClient, newIdempotencyKey } from "./api.js";
import { describeError } from "./errors.js";

/** @typedef {import("./api.js").OrderView} OrderView */
/** @typedef {import("./api.js").OrderStatus} OrderStatus */
/** @typedef {import("./api.js").OrderDraft} OrderDraft */
/** @typedef {{ sku: string, name?: string, price?: number }} CatalogueEntry */

const STORAGE = { apiUrl: "orderflow.apiUrl", apiKey: "orderflow.apiKey" };
/** Polling starts fast (an offline order settles in about a second) and backs off to this. */
const POLL_MAX_MS = 3000;

/**
 * @template {HTMLElement} T
 * @param {string} id
 * @param {new () => T} type
 * @returns {T}
 */
function byId(id, type) {
  const el = document.getElementById(id);
  if (!(el instanceof type)) throw new Error(`#${id} is missing`);
  return el;
}

/**
 * @param {string} tag
 * @param {Record<string, string>} [attrs]
 * @param {(Node | string)[]} [children]
 */
function h(tag, attrs = {}, children = []) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
  el.append(...children);
  return el;
}

/** @param {{ amount: number, currency: string }} money integer cents */
function formatMoney(money) {
  return new Intl.NumberFormat(undefined, { style: "currency", currency: money.currency }).format(
    money.amount / 100,
  );
}

/** @param {string} iso */
function formatTime(iso) {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleString();
}

const el = {
  settings: byId("settings", HTMLFormElement),
  apiUrl: byId("api-url", HTMLInputElement),
  apiKey: byId("api-key", HTMLInputElement),
  settingsSaved: byId("settings-saved", HTMLElement),
  order: byId("order", HTMLFormElement),
  email: byId("email", HTMLInputElement),
  name: byId("name", HTMLInputElement),
  phone: byId("phone", HTMLInputElement),
  items: byId("items", HTMLOListElement),
  addItem: byId("add-item", HTMLButtonElement),
  catalogue: byId("catalogue", HTMLDataListElement),
  place: byId("place", HTMLButtonElement),
  orderError: byId("order-error", HTMLElement),
  tracking: byId("tracking", HTMLElement),
  announce: byId("announce", HTMLElement),
  listControls: byId("list-controls", HTMLFormElement),
  statusFilter: byId("status-filter", HTMLSelectElement),
  pageSize: byId("page-size", HTMLSelectElement),
  listError: byId("list-error", HTMLElement),
  table: byId("orders", HTMLTableElement),
  listSummary: byId("list-summary", HTMLElement),
  more: byId("more", HTMLButtonElement),
};

// ---- settings ----------------------------------------------------------------------------

function loadSettings() {
  // `npm start` prints the page's URL with `#api=<API URL>`: taken, then dropped from the
  // address bar. The key is never put in a URL (history, screen shares); it is typed once.
  const fromHash = new URLSearchParams(location.hash.slice(1)).get("api");
  if (fromHash) {
    localStorage.setItem(STORAGE.apiUrl, fromHash);
    history.replaceState(null, "", location.pathname + location.search);
  }
  el.apiUrl.value = localStorage.getItem(STORAGE.apiUrl) ?? "";
  el.apiKey.value = localStorage.getItem(STORAGE.apiKey) ?? "";
}

// A restarted `npm start` prints a new API port: opening its link in the same tab only changes the hash.
window.addEventListener("hashchange", loadSettings);

el.settings.addEventListener("submit", (event) => {
  event.preventDefault();
  localStorage.setItem(STORAGE.apiUrl, el.apiUrl.value.trim());
  localStorage.setItem(STORAGE.apiKey, el.apiKey.value.trim());
  el.settingsSaved.textContent = "Saved.";
});

/** A client for the saved settings, or an error shown where the user acted. */
function client() {
  const baseUrl = el.apiUrl.value.trim();
  const apiKey = el.apiKey.value.trim();
  if (!baseUrl || !apiKey) return undefined;
  return createClient({ baseUrl, apiKey });
}

// ---- errors ------------------------------------------------------------------------------

/**
 * @param {HTMLElement} box
 * @param {unknown} err
 * @param {boolean} [focus] move the focus to the message (after a user's action, not while polling)
 */
function showError(box, err, focus = true) {
  const view = describeError(err, { origin: location.origin });
  const status = err instanceof ApiError ? ` (HTTP ${err.status})` : "";
  box.replaceChildren(
    h("p", {}, [h("strong", {}, [view.title + status])]),
    ...(view.details.length
      ? [
          h(
            "ul",
            {},
            view.details.map((d) => h("li", {}, [d])),
          ),
        ]
      : []),
    h("p", {}, [view.action]),
  );
  box.hidden = false;
  if (focus) box.focus();
}

/** @param {HTMLElement} box */
function clearError(box) {
  box.hidden = true;
  box.replaceChildren();
}

/** @param {HTMLElement} box */
function needSettings(box) {
  box.replaceChildren(h("p", {}, [h("strong", {}, ["Set the API URL and key in Settings first."])]));
  box.hidden = false;
  box.focus();
}

// ---- catalogue and item rows ---------------------------------------------------------------

/** @type {CatalogueEntry[]} */
let catalogue = [];
let rowSeq = 0;

/** The catalogue is optional: `npm start` serves it, a static host may ship a catalogue.json. */
async function loadCatalogue() {
  try {
    const res = await fetch("catalogue.json", { cache: "no-store" });
    if (!res.ok) return;
    catalogue = /** @type {CatalogueEntry[]} */ (await res.json());
  } catch {
    return;
  }
  el.catalogue.replaceChildren(
    ...catalogue.map((c) => {
      const label = [c.name, c.price === undefined ? "" : formatMoney({ amount: c.price, currency: "USD" })]
        .filter(Boolean)
        .join(", ");
      return h("option", { value: c.sku }, [label]);
    }),
  );
  const first = el.items.querySelector("input[name=sku]");
  if (first instanceof HTMLInputElement && first.value === "" && catalogue[0]) first.value = catalogue[0].sku;
}

function renumberRows() {
  el.items.querySelectorAll("li").forEach((li, i) => {
    const remove = li.querySelector("button");
    if (remove) remove.setAttribute("aria-label", `Remove item ${i + 1}`);
  });
}

function addItemRow(sku = "", quantity = "1") {
  const n = ++rowSeq;
  const skuInput = h("input", { id: `sku-${n}`, name: "sku", list: "catalogue", autocomplete: "off" });
  const qtyInput = h("input", { id: `qty-${n}`, name: "quantity", type: "number", min: "1", max: "100" });
  /** @type {HTMLInputElement} */ (skuInput).value = sku;
  /** @type {HTMLInputElement} */ (qtyInput).value = quantity;
  const remove = h("button", { type: "button", class: "secondary" }, ["Remove"]);
  const li = h("li", {}, [
    h("div", { class: "field" }, [h("label", { for: `sku-${n}` }, ["SKU"]), skuInput]),
    h("div", { class: "field" }, [h("label", { for: `qty-${n}` }, ["Quantity"]), qtyInput]),
    remove,
  ]);
  remove.addEventListener("click", () => {
    li.remove();
    renumberRows();
    el.addItem.focus();
  });
  el.items.append(li);
  renumberRows();
  return skuInput;
}

el.addItem.addEventListener("click", () => addItemRow().focus());

// ---- placing an order ------------------------------------------------------------------------

/** @returns {OrderDraft} what the form says, unchecked: the API's validation answers. */
function orderBody() {
  /** @type {OrderDraft["customer"]} */
  const customer = { email: el.email.value.trim() };
  if (el.name.value.trim()) customer.name = el.name.value.trim();
  if (el.phone.value.trim()) customer.phone = el.phone.value.trim();
  const items = [...el.items.querySelectorAll("li")].map((li) => {
    const sku = /** @type {HTMLInputElement} */ (li.querySelector("input[name=sku]")).value.trim();
    const raw = /** @type {HTMLInputElement} */ (li.querySelector("input[name=quantity]")).value.trim();
    // An empty or non-numeric quantity goes as null, so the API names the field.
    const quantity = raw === "" || Number.isNaN(Number(raw)) ? null : Number(raw);
    return { sku, quantity };
  });
  const token = new FormData(el.order).get("token");
  return { customer, items, payment: { token: typeof token === "string" ? token : "" } };
}

/**
 * One key per distinct order body: resubmitting the same body (after a lost answer, a 429 or a
 * 5xx) reuses it, so the API returns the same order instead of placing a second one.
 * @type {{ body: string, key: string } | undefined}
 */
let attempt;

el.order.addEventListener("submit", async (event) => {
  event.preventDefault();
  clearError(el.orderError);
  const api = client();
  if (!api) return needSettings(el.orderError);
  const body = orderBody();
  const text = JSON.stringify(body);
  if (attempt?.body !== text) attempt = { body: text, key: newIdempotencyKey() };
  el.place.disabled = true;
  try {
    const { order, location: where } = await api.placeOrder(body, attempt.key);
    attempt = undefined;
    track(order.orderId, order, where);
  } catch (err) {
    // 409: that key belongs to another body; the next submit must not reuse it.
    if (err instanceof ApiError && err.status === 409) attempt = undefined;
    showError(el.orderError, err);
  } finally {
    el.place.disabled = false;
  }
});

// ---- tracking --------------------------------------------------------------------------------

let trackRun = 0;

/**
 * A FAILED order is still being compensated until the API adds `failure.compensatedAt`:
 * compensate_order marks it FAILED first and records the refund and the restock as it does them,
 * so flags that look settled may still change. The page follows until compensatedAt, or gives up
 * after this long: the Compensate state's retries take about a minute, after which the sweeper
 * (or an operator) finishes the job on a scale of minutes, and a page left open must not poll
 * for ever (an API from before compensatedAt never sends it). The user can follow again.
 */
const COMPENSATION_WAIT_MS = 120_000;

/**
 * Where compensation stands for the tracking panel: `final` once the API says so, `running`
 * while the page waits for it, `unconfirmed` when the page stopped waiting.
 * @typedef {"final" | "running" | "unconfirmed"} Compensation
 */

/**
 * @param {string} orderId
 * @param {OrderView} [initial]
 * @param {string | null} [where] the Location header of the 201
 */
async function track(orderId, initial, where) {
  const run = ++trackRun;
  /** @type {{ status: string, at: string }[]} */
  const seen = [];
  let lastState = "";
  /** When this page first saw the order FAILED without compensatedAt: the fallback's start. */
  let waitingSince = 0;
  /**
   * @param {OrderView} order
   * @returns {boolean} nothing more to follow
   */
  const settled = (order) => {
    if (order.status === "COMPLETED") return true;
    if (order.status !== "FAILED") return false;
    if (order.failure?.compensatedAt) return true;
    waitingSince ||= Date.now();
    return Date.now() - waitingSince >= COMPENSATION_WAIT_MS;
  };
  /** @param {OrderView} order */
  const update = (order) => {
    const done = settled(order);
    const f = order.failure;
    const state = [
      order.status,
      f?.reason,
      f?.refunded && "refunded",
      f?.restocked && "restocked",
      f?.compensatedAt && "compensation final",
      f && !f.compensatedAt && done && "compensation not confirmed",
    ]
      .filter(Boolean)
      .join(", ");
    if (state !== lastState) {
      lastState = state;
      el.announce.textContent = `Order ${order.orderId}: ${state}`;
    }
    if (seen.at(-1)?.status !== order.status)
      seen.push({ status: order.status, at: new Date().toLocaleTimeString() });
    /** @type {Compensation | undefined} */
    const compensation = f && (f.compensatedAt ? "final" : done ? "unconfirmed" : "running");
    renderTracking(order, seen, where, done, compensation);
    return done;
  };
  if (initial) update(initial);
  else el.tracking.replaceChildren(h("p", {}, [`Loading order ${orderId}…`]));
  const api = client();
  if (!api) return;
  const errorBox = h("div", { class: "error", role: "alert", id: "track-error", tabindex: "-1" });
  errorBox.hidden = true;
  let delay = 400;
  if (initial && (initial.status === "COMPLETED" || initial.failure?.compensatedAt)) return;
  for (;;) {
    await new Promise((resolve) => setTimeout(resolve, delay));
    if (run !== trackRun) return;
    try {
      const order = await api.getOrder(orderId);
      if (run !== trackRun) return;
      if (update(order)) return;
    } catch (err) {
      if (run !== trackRun) return;
      // Shown without taking the focus: polling runs while the user does something else.
      el.tracking.append(errorBox);
      showError(errorBox, err, false);
      // A wrong key or order will not fix itself; anything else (429, 5xx, network) is retried.
      if (err instanceof ApiError && (err.status === 403 || err.status === 404)) return;
    }
    delay = Math.min(POLL_MAX_MS, delay * 1.5);
  }
}

/** @type {Record<Compensation, string>} */
const COMPENSATION_TEXT = {
  final: "final",
  running: "under way",
  unconfirmed: "not confirmed yet",
};

/**
 * @param {OrderView} order
 * @param {{ status: string, at: string }[]} seen
 * @param {string | null | undefined} where
 * @param {boolean} settled
 * @param {Compensation | undefined} compensation
 */
function renderTracking(order, seen, where, settled, compensation) {
  /** @type {[string, string | HTMLElement][]} */
  const rows = [
    [
      "Status",
      h("span", { class: "status", id: "track-status", "data-status": order.status }, [order.status]),
    ],
    ["Total", formatMoney(order.total)],
    [
      "Items",
      order.items
        .map(
          (i) =>
            `${i.quantity} × ${i.sku} at ${formatMoney({ amount: i.unitPrice, currency: order.total.currency })}`,
        )
        .join("; "),
    ],
    ["Placed", formatTime(order.createdAt)],
    ["Updated", formatTime(order.updatedAt)],
  ];
  if (where) rows.push(["Location", h("code", { id: "track-location" }, [where])]);
  if (order.failure) {
    const at = order.failure.compensatedAt;
    rows.push(
      ["Failure", h("span", { id: "track-reason" }, [order.failure.reason])],
      ["Refunded", h("span", { id: "track-refunded" }, [order.failure.refunded ? "yes" : "no"])],
      ["Restocked", h("span", { id: "track-restocked" }, [order.failure.restocked ? "yes" : "no"])],
    );
    if (compensation)
      rows.push([
        "Compensation",
        h("span", { id: "track-compensation", "data-state": compensation }, [
          COMPENSATION_TEXT[compensation] + (at ? ` (${formatTime(at)})` : ""),
        ]),
      ]);
  }
  /** @type {(HTMLElement | string)[]} */
  let note = [];
  if (compensation === "final")
    note = ["Compensation final: the refund and restock above are what the API records."];
  else if (compensation === "unconfirmed") {
    const again = h("button", { type: "button", class: "secondary", id: "track-again" }, ["Follow again"]);
    again.addEventListener("click", () => {
      void track(order.orderId, order, where);
      // The button is gone with the panel it was in: keep the focus in the panel.
      el.tracking.focus();
    });
    note = [
      `Compensation not confirmed after ${COMPENSATION_WAIT_MS / 60_000} minutes: the refund and restock may still change. `,
      again,
    ];
  } else if (compensation === "running")
    note = ["Watching the compensation: a refund or a restock appears here when it is done…"];
  else if (!settled) note = ["Following this order…"];
  el.tracking.replaceChildren(
    h("h3", {}, ["Order ", h("code", { id: "track-id" }, [order.orderId])]),
    h(
      "dl",
      {},
      rows.flatMap(([k, v]) => [h("dt", {}, [k]), h("dd", {}, [v])]),
    ),
    h("p", { class: "hint" }, ["Seen: ", seen.map((s) => `${s.status} (${s.at})`).join(" → ")]),
    ...(note.length ? [h("p", { class: "hint", id: "track-note" }, note)] : []),
  );
}

// ---- the list ----------------------------------------------------------------------------------

/** @type {string | undefined} */
let nextToken;
let shown = 0;

/** @param {boolean} more append the next page instead of starting over */
async function loadOrders(more) {
  clearError(el.listError);
  const api = client();
  if (!api) return needSettings(el.listError);
  const tbody = /** @type {HTMLTableSectionElement} */ (el.table.tBodies[0]);
  el.more.disabled = true;
  try {
    const page = await api.listOrders({
      status: /** @type {OrderStatus | ""} */ (el.statusFilter.value),
      limit: Number(el.pageSize.value),
      nextToken: more ? nextToken : undefined,
    });
    if (!more) {
      tbody.replaceChildren();
      shown = 0;
    }
    for (const order of page.items) {
      const follow = h(
        "button",
        { type: "button", class: "secondary", "aria-label": `Follow order ${order.orderId}` },
        ["Follow"],
      );
      follow.addEventListener("click", () => {
        track(order.orderId);
        el.tracking.scrollIntoView();
      });
      tbody.append(
        h("tr", { "data-order-id": order.orderId }, [
          h("td", {}, [h("code", {}, [order.orderId])]),
          h("td", {}, [h("span", { class: "status", "data-status": order.status }, [order.status])]),
          h("td", {}, [formatMoney(order.total)]),
          h("td", {}, [formatTime(order.createdAt)]),
          h("td", {}, [follow]),
        ]),
      );
    }
    shown += page.items.length;
    nextToken = page.nextToken;
    el.table.hidden = shown === 0;
    el.more.hidden = nextToken === undefined;
    el.listSummary.textContent =
      shown === 0
        ? "No orders."
        : `${shown} order${shown === 1 ? "" : "s"} shown${nextToken ? ", more available" : ""}.`;
  } catch (err) {
    showError(el.listError, err);
  } finally {
    el.more.disabled = false;
  }
}

el.listControls.addEventListener("submit", (event) => {
  event.preventDefault();
  void loadOrders(false);
});
el.more.addEventListener("click", () => void loadOrders(true));

// ---- start -------------------------------------------------------------------------------------

loadSettings();
addItemRow();
void loadCatalogue();
