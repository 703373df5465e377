import { CreateTableCommand, DynamoDBClient } from "@aws-sdk/client-dynamodb";

/** The three tables as the data component defines them (keys and GSIs), for dynalite. */
export async function createTables(
  client: DynamoDBClient,
  names: { orders: string; inventory: string; payments: string },
) {
  await client.send(
    new CreateTableCommand({
      TableName: names.orders,
      BillingMode: "PAY_PER_REQUEST",
      KeySchema: [{ AttributeName: "orderId", KeyType: "HASH" }],
      AttributeDefinitions: [
        { AttributeName: "orderId", AttributeType: "S" },
        { AttributeName: "entity", AttributeType: "S" },
        { AttributeName: "status", AttributeType: "S" },
        { AttributeName: "createdAt", AttributeType: "S" },
      ],
      GlobalSecondaryIndexes: [
        {
          IndexName: "byCreatedAt",
          KeySchema: [
            { AttributeName: "entity", KeyType: "HASH" },
            { AttributeName: "createdAt", KeyType: "RANGE" },
          ],
          Projection: { ProjectionType: "ALL" },
        },
        {
          IndexName: "byStatus",
          KeySchema: [
            { AttributeName: "status", KeyType: "HASH" },
            { AttributeName: "createdAt", KeyType: "RANGE" },
          ],
          Projection: { ProjectionType: "ALL" },
        },
      ],
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
