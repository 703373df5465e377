import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { dynamoInventoryStore, type InventoryStore } from "./shared/inventoryStore";
import { createLogger, type Logger } from "./shared/log";
import { buildInventoryRequestSchema, parseOrThrow } from "./shared/schema";
import { ENV, requireEnv, type Env } from "./shared/settings";
import type { InventoryRequest, InventoryResult } from "./shared/types";

export interface UpdateInventoryDeps {
  inventory: InventoryStore;
  log: Logger;
}

type Line = { sku: string; quantity: number };

/**
 * update_inventory: reserve / release / commit an order's stock, idempotent per order through
 * the per-order reservation marker on each SKU item (see inventoryStore.ts).
 *  - reserve: all or nothing. A SKU that is short (or missing) fails the whole request, and what
 *    this order holds is given back. A SKU already reserved by this order counts as reserved.
 *  - release: gives back exactly what the marker says; `released` is true if anything was.
 *  - commit: drops the markers once the order is paid (the stock stays taken); after that the
 *    order can no longer be restocked by marker.
 * Stock never goes below zero: every decrement is conditional on `stock >= :q`.
 */
export function updateInventoryHandler(
  deps: UpdateInventoryDeps,
): (request: InventoryRequest) => Promise<InventoryResult> {
  const schema = buildInventoryRequestSchema();
  const { inventory } = deps;

  const reserveLine = async (
    orderId: string,
    { sku, quantity }: Line,
  ): Promise<"reserved" | "held" | "short"> => {
    if (await inventory.reserve(sku, orderId, quantity)) return "reserved";
    let record = await inventory.get(sku);
    if (record && record.reservations === undefined) {
      // Seeded without the map: create it once, then try again.
      await inventory.ensureReservations(sku);
      if (await inventory.reserve(sku, orderId, quantity)) return "reserved";
      record = await inventory.get(sku);
    }
    if (record?.reservations?.[orderId] !== undefined) return "held";
    return "short";
  };

  const releaseLine = async (orderId: string, { sku, quantity }: Line): Promise<boolean> => {
    // The order's lines never change, so the marker holds `quantity`: one write in the usual case.
    if (await inventory.release(sku, orderId, quantity)) return true;
    const marker = (await inventory.get(sku))?.reservations?.[orderId];
    if (marker === undefined || marker === quantity) return false;
    return inventory.release(sku, orderId, marker);
  };

  return async (input) => {
    const { action, orderId, items } = parseOrThrow(schema, input, "inventory request", deps.log);
    const log = deps.log.child({ orderId, action });

    switch (action) {
      case "reserve": {
        const short: string[] = [];
        const held: Line[] = [];
        for (const line of items) {
          const outcome = await reserveLine(orderId, line);
          if (outcome === "short") short.push(line.sku);
          else held.push(line);
        }
        if (short.length === 0) {
          log.info("stock reserved", { skus: items.map((i) => i.sku) });
          return { action, ok: true };
        }
        for (const line of held) await releaseLine(orderId, line);
        log.info("out of stock", { skus: short, givenBack: held.map((l) => l.sku) });
        return { action, ok: false, reason: "OutOfStock", skus: short };
      }
      case "release": {
        let released = false;
        for (const line of items) released = (await releaseLine(orderId, line)) || released;
        log.info("stock released", { released });
        return { action, released };
      }
      case "commit": {
        let committed = false;
        for (const { sku } of items) committed = (await inventory.commit(sku, orderId)) || committed;
        log.info("reservation committed", { committed });
        return { action, committed };
      }
    }
  };
}

export function updateInventoryFromEnv(env: Env = process.env) {
  return updateInventoryHandler({
    inventory: dynamoInventoryStore(new DynamoDBClient({}), requireEnv(env, ENV.inventoryTable)),
    log: createLogger({ fn: "update_inventory" }),
  });
}
