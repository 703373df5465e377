import { BatchGetItemCommand, DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { unmarshall } from "@aws-sdk/util-dynamodb";
import { domainError, namedError } from "./errors";

export interface CataloguePrice {
  sku: string;
  /** Integer cents. */
  price: number;
}

export interface CatalogueBatch {
  found: CataloguePrice[];
  /** Keys DynamoDB did not process this time (throttling, size): ask again. */
  unprocessed: string[];
}

/** Prices from the inventory table. One BatchGetItem per call (at most 100 keys). */
export interface Catalogue {
  getPrices(skus: string[]): Promise<CatalogueBatch>;
}

/** https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_BatchGetItem.html */
export const BATCH_GET_MAX_KEYS = 100;

export function dynamoCatalogue(client: DynamoDBClient, tableName: string): Catalogue {
  return {
    async getPrices(skus) {
      if (skus.length === 0) return { found: [], unprocessed: [] };
      const out = await client.send(
        new BatchGetItemCommand({
          RequestItems: {
            [tableName]: {
              Keys: skus.map((sku) => ({ sku: { S: sku } })),
              ProjectionExpression: "sku, price",
            },
          },
        }),
      );
      const found = (out.Responses?.[tableName] ?? []).map((item) => unmarshall(item) as CataloguePrice);
      const unprocessed = (out.UnprocessedKeys?.[tableName]?.Keys ?? []).map((k) => String(k.sku?.S));
      return { found, unprocessed };
    },
  };
}

/**
 * Looks every SKU up, asking again for unprocessed keys (a few times, with a short backoff as
 * AWS recommends for BatchGetItem). Returns the prices found; a SKU missing from the result is
 * unknown. A catalogue price that is not integer cents is a data error (500), never used.
 */
export async function lookupPrices(
  catalogue: Catalogue,
  skus: string[],
  options: { attempts?: number; backoffMs?: number } = {},
): Promise<Map<string, number>> {
  const attempts = options.attempts ?? 4;
  const backoffMs = options.backoffMs ?? 50;
  const prices = new Map<string, number>();
  let pending = [...new Set(skus)];
  for (let attempt = 1; pending.length > 0; attempt++) {
    if (attempt > attempts) {
      throw namedError("CatalogueUnavailable", `catalogue lookup left ${pending.length} keys unprocessed`);
    }
    if (attempt > 1 && backoffMs > 0) await new Promise((r) => setTimeout(r, backoffMs * 2 ** (attempt - 2)));
    const next: string[] = [];
    for (let i = 0; i < pending.length; i += BATCH_GET_MAX_KEYS) {
      const batch = await catalogue.getPrices(pending.slice(i, i + BATCH_GET_MAX_KEYS));
      for (const { sku, price } of batch.found) {
        if (!Number.isSafeInteger(price) || price < 0) {
          throw domainError("DataError", `catalogue price of ${sku} is not integer cents`, { sku });
        }
        prices.set(sku, price);
      }
      next.push(...batch.unprocessed);
    }
    pending = next;
  }
  return prices;
}
