import { DynamoDBClient, GetItemCommand, UpdateItemCommand } from "@aws-sdk/client-dynamodb";
import { marshall, unmarshall } from "@aws-sdk/util-dynamodb";
import { ifConditionHolds } from "./errors";

/**
 * A SKU's stock record in the inventory table: the catalogue entry plus per-order reservation
 * markers `reservations: { [orderId]: quantity }`.
 *
 * Why markers: the offline DynamoDB (dynalite) has no TransactWriteItems, so a multi-SKU order
 * reserves with one conditional UpdateItem per SKU. The marker makes each step idempotent (a
 * redelivered reserve sees its own marker) and lets release return exactly what was taken.
 * Items seeded without the map get it on first use (`ensureReservations`).
 */
export interface StockRecord {
  sku: string;
  stock: number;
  reservations?: Record<string, number>;
}

/** One AWS call per method; a `false` result means the write's condition did not hold. */
export interface InventoryStore {
  get(sku: string): Promise<StockRecord | undefined>;
  /** `stock -= quantity` and marks the reservation, only if stock >= quantity, the map exists and there is no marker yet. */
  reserve(sku: string, orderId: string, quantity: number): Promise<boolean>;
  /** Creates an empty `reservations` map on an existing item that has none. */
  ensureReservations(sku: string): Promise<boolean>;
  /** `stock += quantity` and removes the marker, only if the marker holds exactly `quantity`. */
  release(sku: string, orderId: string, quantity: number): Promise<boolean>;
  /** Removes the marker (the stock stays taken), only if there is one. */
  commit(sku: string, orderId: string): Promise<boolean>;
}

export function dynamoInventoryStore(client: DynamoDBClient, tableName: string): InventoryStore {
  const key = (sku: string) => ({ sku: { S: sku } });
  const conditional = async (input: Omit<ConstructorParameters<typeof UpdateItemCommand>[0], "TableName">) =>
    (await ifConditionHolds(client.send(new UpdateItemCommand({ ...input, TableName: tableName })))) !==
    undefined;

  return {
    async get(sku) {
      const out = await client.send(
        new GetItemCommand({
          TableName: tableName,
          Key: key(sku),
          ConsistentRead: true,
          ProjectionExpression: "sku, stock, reservations",
        }),
      );
      return out.Item ? (unmarshall(out.Item) as StockRecord) : undefined;
    },

    reserve: (sku, orderId, quantity) =>
      conditional({
        Key: key(sku),
        UpdateExpression: "SET stock = stock - :q, reservations.#oid = :q",
        ConditionExpression:
          "attribute_exists(reservations) AND attribute_not_exists(reservations.#oid) AND stock >= :q",
        ExpressionAttributeNames: { "#oid": orderId },
        ExpressionAttributeValues: marshall({ ":q": quantity }),
      }),

    ensureReservations: (sku) =>
      conditional({
        Key: key(sku),
        UpdateExpression: "SET reservations = if_not_exists(reservations, :empty)",
        ConditionExpression: "attribute_exists(sku)",
        ExpressionAttributeValues: { ":empty": { M: {} } },
      }),

    release: (sku, orderId, quantity) =>
      conditional({
        Key: key(sku),
        UpdateExpression: "SET stock = stock + :q REMOVE reservations.#oid",
        ConditionExpression: "reservations.#oid = :q",
        ExpressionAttributeNames: { "#oid": orderId },
        ExpressionAttributeValues: marshall({ ":q": quantity }),
      }),

    commit: (sku, orderId) =>
      conditional({
        Key: key(sku),
        UpdateExpression: "REMOVE reservations.#oid",
        ConditionExpression: "attribute_exists(reservations.#oid)",
        ExpressionAttributeNames: { "#oid": orderId },
      }),
  };
}
