/**
 * A whole order pipeline in memory for the payment / compensation specs: the real handlers and
 * ledger over the in-memory port fakes, with the payment provider and the workflow as sinon
 * spies/stubs, so a spec can inject a fault at any step and check the invariants after.
 */
import * as sinon from "sinon";
import type { SQSEvent, SQSRecord } from "aws-lambda";
import { compensateOrderHandler } from "../../functions/compensateOrder";
import { processPaymentHandler, type ProcessPaymentDeps } from "../../functions/processPayment";
import { updateInventoryHandler } from "../../functions/updateInventory";
import type { InventoryClient } from "../../functions/shared/inventoryClient";
import { createLedger, type Ledger } from "../../functions/shared/ledger";
import { toWorkflowOrder } from "../../functions/shared/order";
import { simulatedPaymentProvider, type PaymentProvider } from "../../functions/shared/payments";
import type { TimeContext } from "../../functions/shared/timeBudget";
import type { InventoryRequest, Order, WorkflowError } from "../../functions/shared/types";
import {
  captureLogger,
  clock,
  fakeInventoryStore,
  fakeLedgerStore,
  fakeOrderStore,
  makeOrder,
  type CapturedLog,
  type FakeInventoryStore,
  type FakeLedgerStore,
  type FakeOrderStore,
} from "./support";

export const TOKEN = "task-token-1";
export const DECLINE_ABOVE = 100_000;

export interface World {
  orders: FakeOrderStore;
  ledgerStore: FakeLedgerStore;
  stock: FakeInventoryStore;
  /** The simulator behind `provider`'s stubs, for a stub that must still reach it. */
  simulator: PaymentProvider;
  provider: { charge: sinon.SinonStub; refund: sinon.SinonStub } & PaymentProvider;
  /** The ledger the handlers share (over `ledgerStore` and `provider`). */
  ledger: Ledger;
  inventory: { invoke: sinon.SinonStub } & InventoryClient;
  workflow: {
    start: sinon.SinonStub;
    heartbeat: sinon.SinonStub;
    sendSuccess: sinon.SinonStub;
    sendFailure: sinon.SinonStub;
  };
  log: CapturedLog;
  /** update_inventory itself (what `inventory.invoke` calls by default). */
  runInventory: ReturnType<typeof updateInventoryHandler>;
  processPayment: (
    event: SQSEvent,
    context?: TimeContext,
  ) => Promise<{ batchItemFailures: { itemIdentifier: string }[] }>;
  compensate: (error: WorkflowError, order?: Order) => ReturnType<ReturnType<typeof compensateOrderHandler>>;
  /** Stock per SKU. */
  levels(): Record<string, number>;
  /** Ledger entries of an order, by kind. */
  entries(orderId?: string): string[];
}

export function buildWorld(
  order: Order = makeOrder(),
  stock: Record<string, number> = { "SKU-1": 5, "SKU-2": 3 },
  /** process_payment's batch settings (records in flight, time budget). */
  batch: Pick<ProcessPaymentDeps, "recordConcurrency" | "recordBudgetMs"> = {},
): World {
  const orders = fakeOrderStore([order]);
  const ledgerStore = fakeLedgerStore();
  const stockStore = fakeInventoryStore(stock);
  const log = captureLogger();
  const now = clock();
  const sim = simulatedPaymentProvider({ declineAboveCents: DECLINE_ABOVE });
  const provider = {
    charge: sinon.stub().callsFake(sim.charge),
    refund: sinon.stub().callsFake(sim.refund),
  };
  const runInventory = updateInventoryHandler({ inventory: stockStore, log });
  const inventory = {
    invoke: sinon.stub().callsFake((req: InventoryRequest) => runInventory(req)),
  } as unknown as World["inventory"];
  const workflow = {
    start: sinon.stub().resolves("started"),
    heartbeat: sinon.stub().resolves(),
    sendSuccess: sinon.stub().resolves(),
    sendFailure: sinon.stub().resolves(),
  };
  const ledger = createLedger({ store: ledgerStore, provider, now, log });
  const processPayment = processPaymentHandler({ orders, ledger, inventory, workflow, now, log, ...batch });
  const compensateHandler = compensateOrderHandler({ orders, ledger, inventory, now, log });
  return {
    orders,
    ledgerStore,
    stock: stockStore,
    simulator: sim,
    provider,
    ledger,
    inventory,
    workflow,
    log,
    runInventory,
    processPayment,
    compensate: (error, o = order) => compensateHandler({ order: toWorkflowOrder(o), error }),
    levels: () => Object.fromEntries([...stockStore.records].map(([sku, r]) => [sku, r.stock])),
    entries: (orderId = order.orderId) =>
      [...ledgerStore.entries.values()]
        .filter((e) => e.orderId === orderId)
        .map((e) => e.entry)
        .sort(),
  };
}

export function sqsRecord(order: Order, messageId = "msg-1", taskToken = TOKEN): SQSRecord {
  return rawRecord(JSON.stringify({ order: toWorkflowOrder(order), taskToken }), messageId);
}

export function rawRecord(body: string, messageId = "msg-1"): SQSRecord {
  return {
    messageId,
    receiptHandle: "rh",
    body,
    attributes: {
      ApproximateReceiveCount: "1",
      SentTimestamp: "0",
      SenderId: "x",
      ApproximateFirstReceiveTimestamp: "0",
    },
    messageAttributes: {},
    md5OfBody: "",
    eventSource: "aws:sqs",
    eventSourceARN: "arn:aws:sqs:us-east-1:123456789012:payments",
    awsRegion: "us-east-1",
  };
}

export function sqsEvent(...records: SQSRecord[]): SQSEvent {
  return { Records: records };
}

export function awsError(name: string, message = name): Error {
  return Object.assign(new Error(message), { name, $metadata: { httpStatusCode: 400 } });
}
