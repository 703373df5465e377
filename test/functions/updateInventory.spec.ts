import { expect } from "chai";
import * as sinon from "sinon";
import { updateInventoryHandler } from "../../functions/updateInventory";
import type { InventoryRequest } from "../../functions/shared/types";
import {
  captureLogger,
  fakeInventoryStore,
  ORDER_ID,
  OTHER_ORDER_ID,
  type FakeInventoryStore,
} from "./support";

const ITEMS = [
  { sku: "A", quantity: 2 },
  { sku: "B", quantity: 3 },
];

describe("update_inventory", () => {
  let store: FakeInventoryStore;
  let run: ReturnType<typeof updateInventoryHandler>;
  beforeEach(() => {
    store = fakeInventoryStore({ A: 5, B: 3, C: 0 });
    run = updateInventoryHandler({ inventory: store, log: captureLogger() });
  });
  afterEach(() => sinon.restore());

  const req = (action: InventoryRequest["action"], items = ITEMS, orderId = ORDER_ID) =>
    run({ action, orderId, items } as InventoryRequest);
  const stock = () => Object.fromEntries([...store.records].map(([sku, r]) => [sku, r.stock]));

  it("reserve takes the stock and marks it with the order id", async () => {
    expect(await req("reserve")).to.deep.equal({ action: "reserve", ok: true });
    expect(stock()).to.deep.equal({ A: 3, B: 0, C: 0 });
    expect(store.records.get("A")!.reservations).to.deep.equal({ [ORDER_ID]: 2 });
  });

  it("reserve is idempotent per order (a redelivery takes nothing more)", async () => {
    await req("reserve");
    expect(await req("reserve")).to.deep.equal({ action: "reserve", ok: true });
    expect(stock()).to.deep.equal({ A: 3, B: 0, C: 0 });
  });

  it("a short SKU fails the reserve, names every short SKU and gives back what was taken", async () => {
    const res = await req("reserve", [
      { sku: "A", quantity: 2 },
      { sku: "C", quantity: 1 },
      { sku: "B", quantity: 4 },
      { sku: "MISSING", quantity: 1 },
    ]);
    expect(res).to.deep.equal({
      action: "reserve",
      ok: false,
      reason: "OutOfStock",
      skus: ["C", "B", "MISSING"],
    });
    expect(stock()).to.deep.equal({ A: 5, B: 3, C: 0 });
    expect(store.records.get("A")!.reservations).to.deep.equal({});
  });

  it("never goes below zero: the second order for the last units is refused", async () => {
    await req("reserve", [{ sku: "B", quantity: 3 }]);
    const res = await req("reserve", [{ sku: "B", quantity: 1 }], OTHER_ORDER_ID);
    expect(res).to.deep.include({ ok: false, skus: ["B"] });
    expect(stock().B).to.equal(0);
  });

  it("creates a missing reservations map (items seeded without one)", async () => {
    store = fakeInventoryStore({ A: 5 }, false);
    run = updateInventoryHandler({ inventory: store, log: captureLogger() });
    expect(await req("reserve", [{ sku: "A", quantity: 1 }])).to.deep.equal({ action: "reserve", ok: true });
    expect(store.records.get("A")).to.deep.equal({ sku: "A", stock: 4, reservations: { [ORDER_ID]: 1 } });
  });

  it("release gives back exactly the reserved quantity once", async () => {
    await req("reserve");
    expect(await req("release")).to.deep.equal({ action: "release", released: true });
    expect(stock()).to.deep.equal({ A: 5, B: 3, C: 0 });
    expect(await req("release")).to.deep.equal({ action: "release", released: false });
    expect(stock()).to.deep.equal({ A: 5, B: 3, C: 0 });
  });

  it("release without a reservation restocks nothing", async () => {
    await req("reserve", ITEMS, OTHER_ORDER_ID);
    expect(await req("release")).to.deep.equal({ action: "release", released: false });
    expect(stock()).to.deep.equal({ A: 3, B: 0, C: 0 });
  });

  it("release takes the quantity from the marker", async () => {
    await req("reserve", [{ sku: "A", quantity: 2 }]);
    expect(await req("release", [{ sku: "A", quantity: 5 }])).to.deep.equal({
      action: "release",
      released: true,
    });
    expect(stock().A).to.equal(5);
  });

  it("commit drops the marker, keeps the stock taken, is idempotent; release after commit restocks nothing", async () => {
    await req("reserve");
    expect(await req("commit")).to.deep.equal({ action: "commit", committed: true });
    expect(store.records.get("A")!.reservations).to.deep.equal({});
    expect(await req("commit")).to.deep.equal({ action: "commit", committed: false });
    expect(await req("release")).to.deep.equal({ action: "release", released: false });
    expect(stock()).to.deep.equal({ A: 3, B: 0, C: 0 });
  });

  for (const [title, bad] of [
    ["unknown action", { action: "steal", orderId: ORDER_ID, items: ITEMS }],
    ["bad order id", { action: "reserve", orderId: "x", items: ITEMS }],
    ["quantity 0", { action: "reserve", orderId: ORDER_ID, items: [{ sku: "A", quantity: 0 }] }],
    ["no items", { action: "reserve", orderId: ORDER_ID, items: [] }],
    [
      "duplicate skus",
      {
        action: "reserve",
        orderId: ORDER_ID,
        items: [
          { sku: "A", quantity: 1 },
          { sku: "A", quantity: 1 },
        ],
      },
    ],
  ] as const) {
    it(`refuses a request with ${title} (ValidationError), touching nothing`, async () => {
      const spy = sinon.spy(store, "reserve");
      let caught: unknown;
      await run(bad as unknown as InventoryRequest).catch((e: unknown) => (caught = e));
      expect(caught).to.include({ name: "ValidationError" });
      expect(spy.called).to.equal(false);
    });
  }
});
