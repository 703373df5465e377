/**
 * Test support for the function specs: in-memory fakes of the ports with the same conditional
 * semantics as the DynamoDB adapters (the adapters themselves are tested against dynalite in
 * adapters.spec.ts), fixtures, a capturing logger and a dynalite server.
 */
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { createLogger, type Logger } from "../../functions/shared/log";
import type { LedgerEntry, LedgerStore } from "../../functions/shared/ledger";
import type { InventoryStore, StockRecord } from "../../functions/shared/inventoryStore";
import type { OrderCursor, OrderStore } from "../../functions/shared/orderStore";
import type { Order, OrderStatus } from "../../functions/shared/types";

const clone = <T>(x: T): T => (x === undefined ? x : (JSON.parse(JSON.stringify(x)) as T));

export interface CapturedLog extends Logger {
  lines: Record<string, unknown>[];
}

export function captureLogger(): CapturedLog {
  const lines: Record<string, unknown>[] = [];
  const logger = createLogger({}, (_level, line) => lines.push(JSON.parse(line) as Record<string, unknown>));
  return Object.assign(logger, { lines });
}

export const ORDER_ID = "3f2a1c9e-8b7d-4e6f-a5b4-c3d2e1f0a9b8";
export const OTHER_ORDER_ID = "9a8b7c6d-5e4f-4a3b-9c2d-1e0f9a8b7c6d";
export const T0 = "2026-01-02T03:04:05.678Z";

export function clock(start = Date.parse(T0)): () => string {
  let t = start;
  return () => new Date((t += 1000)).toISOString();
}

export function makeOrder(overrides: Partial<Order> = {}): Order {
  return {
    orderId: ORDER_ID,
    status: "NEW",
    entity: "ORDER",
    customer: { email: "a@example.com" },
    items: [
      { sku: "SKU-1", quantity: 2, unitPrice: 1250 },
      { sku: "SKU-2", quantity: 1, unitPrice: 500 },
    ],
    total: { amount: 3000, currency: "USD" },
    paymentToken: "tok_visa",
    requestHash: "hash",
    createdAt: T0,
    updatedAt: T0,
    ...overrides,
  };
}

// ---- orders ------------------------------------------------------------------------------

export interface FakeOrderStore extends OrderStore {
  items: Map<string, Order>;
}

export function fakeOrderStore(initial: Order[] = []): FakeOrderStore {
  const items = new Map(initial.map((o) => [o.orderId, clone(o)]));
  return {
    items,
    async get(orderId) {
      return clone(items.get(orderId));
    },
    async create(order) {
      if (items.has(order.orderId)) return false;
      items.set(order.orderId, clone(order));
      return true;
    },
    async updateStatus(orderId, from, to, changes) {
      const current = items.get(orderId);
      if (!current || !from.includes(current.status)) return undefined;
      const next: Order = { ...current, status: to, updatedAt: changes.updatedAt };
      if (changes.chargeId !== undefined) next.chargeId = changes.chargeId;
      if (changes.failure !== undefined) next.failure = clone(changes.failure);
      items.set(orderId, next);
      return clone(next);
    },
    async list({ status, limit, startKey }) {
      const all = [...items.values()]
        .filter((o) => status === undefined || o.status === status)
        .sort((a, b) =>
          a.createdAt === b.createdAt
            ? b.orderId.localeCompare(a.orderId)
            : b.createdAt.localeCompare(a.createdAt),
        );
      const start = startKey ? all.findIndex((o) => o.orderId === startKey.orderId) + 1 : 0;
      const page = all.slice(start, start + limit);
      const last = page[page.length - 1];
      const lastKey: OrderCursor | undefined =
        start + limit < all.length && last
          ? status === undefined
            ? { orderId: last.orderId, createdAt: last.createdAt, entity: "ORDER" }
            : { orderId: last.orderId, createdAt: last.createdAt, status }
          : undefined;
      return { items: clone(page), lastKey };
    },
    async setFailureFlags(orderId, flags, updatedAt) {
      const current = items.get(orderId);
      if (!current || current.status !== "FAILED" || !current.failure) return undefined;
      const failure = { ...current.failure };
      if (flags.refunded) failure.refunded = true;
      if (flags.restocked) failure.restocked = true;
      if (flags.compensatedAt) failure.compensatedAt ??= flags.compensatedAt;
      items.set(orderId, { ...current, failure, updatedAt });
      return clone(items.get(orderId));
    },
    async markNotified(orderId, notifiedAt, messageId) {
      const current = items.get(orderId);
      if (!current || current.notifiedAt) return false;
      items.set(orderId, { ...current, notifiedAt, notificationId: messageId, updatedAt: notifiedAt });
      return true;
    },
  };
}

export function setStatus(
  store: FakeOrderStore,
  orderId: string,
  status: OrderStatus,
  extra: Partial<Order> = {},
): void {
  const o = store.items.get(orderId)!;
  store.items.set(orderId, { ...o, status, ...extra });
}

// ---- ledger ------------------------------------------------------------------------------

export interface FakeLedgerStore extends LedgerStore {
  entries: Map<string, LedgerEntry>;
}

export function fakeLedgerStore(): FakeLedgerStore {
  const entries = new Map<string, LedgerEntry>();
  return {
    entries,
    async get(orderId, entry) {
      return clone(entries.get(`${orderId}#${entry}`)) as never;
    },
    async put(entry) {
      const k = `${entry.orderId}#${entry.entry}`;
      if (entries.has(k)) return false;
      entries.set(k, clone(entry));
      return true;
    },
  };
}

// ---- inventory ---------------------------------------------------------------------------

export interface FakeInventoryStore extends InventoryStore {
  records: Map<string, StockRecord>;
}

export function fakeInventoryStore(stock: Record<string, number>, withMap = true): FakeInventoryStore {
  const records = new Map<string, StockRecord>(
    Object.entries(stock).map(([sku, n]) => [
      sku,
      withMap ? { sku, stock: n, reservations: {} } : { sku, stock: n },
    ]),
  );
  return {
    records,
    async get(sku) {
      return clone(records.get(sku));
    },
    async reserve(sku, orderId, quantity) {
      const r = records.get(sku);
      if (!r || !r.reservations || r.reservations[orderId] !== undefined || r.stock < quantity) return false;
      r.stock -= quantity;
      r.reservations[orderId] = quantity;
      return true;
    },
    async ensureReservations(sku) {
      const r = records.get(sku);
      if (!r) return false;
      r.reservations ??= {};
      return true;
    },
    async release(sku, orderId, quantity) {
      const r = records.get(sku);
      if (!r?.reservations || r.reservations[orderId] !== quantity) return false;
      r.stock += quantity;
      delete r.reservations[orderId];
      return true;
    },
    async commit(sku, orderId) {
      const r = records.get(sku);
      if (!r?.reservations || r.reservations[orderId] === undefined) return false;
      delete r.reservations[orderId];
      return true;
    },
  };
}

// ---- dynalite ----------------------------------------------------------------------------

export interface LocalDynamo {
  endpoint: string;
  close(): Promise<void>;
}

/** An in-memory dynalite on a free port (the offline runtime's DynamoDB). */
export async function startDynalite(): Promise<LocalDynamo> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const dynalite = require("dynalite") as (opts: object) => {
    listen(port: number, cb: () => void): void;
    address(): { port: number };
    close(cb: () => void): void;
  };
  const server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  await new Promise<void>((resolve) => server.listen(0, resolve));
  return {
    endpoint: `http://127.0.0.1:${server.address().port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

export const TEST_CREDENTIALS = { accessKeyId: "test", secretAccessKey: "test" };

/**
 * A dynalite for the enclosing `describe` and a DynamoDB client on it: started in `before`,
 * closed in `after`. Read `.client` inside hooks and tests (it is set by `before`).
 */
export function useDynalite(): { readonly client: DynamoDBClient; readonly endpoint: string } {
  let local: LocalDynamo | undefined;
  let client: DynamoDBClient | undefined;
  before(async () => {
    local = await startDynalite();
    client = new DynamoDBClient({
      endpoint: local.endpoint,
      region: "us-east-1",
      credentials: TEST_CREDENTIALS,
    });
  });
  after(async () => {
    client?.destroy();
    await local?.close();
  });
  return {
    get client() {
      if (!client) throw new Error("useDynalite: the client exists only once `before` has run");
      return client;
    },
    get endpoint() {
      if (!local) throw new Error("useDynalite: dynalite runs only once `before` has run");
      return local.endpoint;
    },
  };
}
