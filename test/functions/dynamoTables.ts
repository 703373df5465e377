import { CreateTableCommand, DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { ORDER_GSIS } from "../../components/orderData";

export interface TableNames {
  orders: string;
  inventory: string;
  payments: string;
}

/** The three tables as the data component defines them (keys and GSIs, from ORDER_GSIS), for dynalite. */
export async function createTables(client: DynamoDBClient, names: TableNames) {
  await client.send(
    new CreateTableCommand({
      TableName: names.orders,
      BillingMode: "PAY_PER_REQUEST",
      KeySchema: [{ AttributeName: "orderId", KeyType: "HASH" }],
      AttributeDefinitions: [
        { AttributeName: "orderId", AttributeType: "S" },
        ...[...new Set(ORDER_GSIS.flatMap((g) => [g.hashKey, g.rangeKey]))].map((AttributeName) => ({
          AttributeName,
          AttributeType: "S" as const,
        })),
      ],
      GlobalSecondaryIndexes: ORDER_GSIS.map((g) => ({
        IndexName: g.name,
        KeySchema: [
          { AttributeName: g.hashKey, KeyType: "HASH" as const },
          { AttributeName: g.rangeKey, KeyType: "RANGE" as const },
        ],
        Projection: { ProjectionType: g.projectionType, NonKeyAttributes: [...g.nonKeyAttributes] },
      })),
    }),
  );
  await client.send(
    new CreateTableCommand({
      TableName: names.inventory,
      BillingMode: "PAY_PER_REQUEST",
      KeySchema: [{ AttributeName: "sku", KeyType: "HASH" }],
      AttributeDefinitions: [{ AttributeName: "sku", AttributeType: "S" }],
    }),
  );
  await client.send(
    new CreateTableCommand({
      TableName: names.payments,
      BillingMode: "PAY_PER_REQUEST",
      KeySchema: [
        { AttributeName: "orderId", KeyType: "HASH" },
        { AttributeName: "entry", KeyType: "RANGE" },
      ],
      AttributeDefinitions: [
        { AttributeName: "orderId", AttributeType: "S" },
        { AttributeName: "entry", AttributeType: "S" },
      ],
    }),
  );
}

let tableSets = 0;

/** The three tables under names no earlier call used: each test starts empty on a shared dynalite. */
export async function freshTables(client: DynamoDBClient): Promise<TableNames> {
  tableSets += 1;
  const names = {
    orders: `orders${tableSets}`,
    inventory: `inventory${tableSets}`,
    payments: `payments${tableSets}`,
  };
  await createTables(client, names);
  return names;
}
