/**
 * DynamoDB: dynalite (in memory, or LevelDB on disk with `dataDir`), with the registered tables.
 * dynalite has no TransactWriteItems (design §6): the handlers reserve stock with single-item
 * conditional writes, which dynalite serialises per item like DynamoDB does.
 */
import * as http from "node:http";
import {
  CreateTableCommand,
  DescribeTableCommand,
  DynamoDBClient,
  ScanCommand,
  type AttributeValue,
  type CreateTableCommandInput,
} from "@aws-sdk/client-dynamodb";
import { close, listen, sleep } from "./net";
import type { LocalTable } from "./topology";

// eslint-disable-next-line @typescript-eslint/no-require-imports
const dynalite = require("dynalite") as (opts: Record<string, unknown>) => http.Server;

export interface LocalDynamo {
  endpoint: string;
  client: DynamoDBClient;
  /** Items in a table (a full scan; for tests and the start-up banner). */
  count(table: string): Promise<number>;
  scanAll(table: string): Promise<Record<string, AttributeValue>[]>;
  stop(): Promise<void>;
}

export async function startDynamo(opts: {
  tables: LocalTable[];
  dataDir?: string;
  port?: number;
  credentials: { accessKeyId: string; secretAccessKey: string };
  region: string;
}): Promise<LocalDynamo> {
  const server = dynalite({ path: opts.dataDir, createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  const port = await listen(server, opts.port ?? 0);
  const endpoint = `http://127.0.0.1:${port}`;
  const client = new DynamoDBClient({
    endpoint,
    region: opts.region,
    credentials: opts.credentials,
    maxAttempts: 1,
  });

  for (const table of opts.tables) await ensureTable(client, table);

  const scanAll = async (table: string) => {
    const items: Record<string, AttributeValue>[] = [];
    let start: Record<string, AttributeValue> | undefined;
    do {
      const page = await client.send(new ScanCommand({ TableName: table, ExclusiveStartKey: start }));
      items.push(...(page.Items ?? []));
      start = page.LastEvaluatedKey;
    } while (start);
    return items;
  };

  return {
    endpoint,
    client,
    scanAll,
    count: async (table) => (await scanAll(table)).length,
    stop: async () => {
      client.destroy();
      await close(server);
    },
  };
}

export function createTableInput(t: LocalTable): CreateTableCommandInput {
  return {
    TableName: t.name,
    BillingMode: "PAY_PER_REQUEST",
    AttributeDefinitions: t.attributes.map((a) => ({ AttributeName: a.name, AttributeType: a.type })),
    KeySchema: [
      { AttributeName: t.hashKey, KeyType: "HASH" },
      ...(t.rangeKey ? [{ AttributeName: t.rangeKey, KeyType: "RANGE" as const }] : []),
    ],
    GlobalSecondaryIndexes: t.globalSecondaryIndexes.length
      ? t.globalSecondaryIndexes.map((g) => ({
          IndexName: g.name,
          KeySchema: [
            { AttributeName: g.hashKey, KeyType: "HASH" as const },
            ...(g.rangeKey ? [{ AttributeName: g.rangeKey, KeyType: "RANGE" as const }] : []),
          ],
          Projection: {
            ProjectionType: g.projectionType,
            NonKeyAttributes: g.projectionType === "INCLUDE" ? g.nonKeyAttributes : undefined,
          },
        }))
      : undefined,
  };
}

/** Creates the table unless it exists (a `--data-dir` store keeps tables between runs). */
async function ensureTable(client: DynamoDBClient, t: LocalTable): Promise<void> {
  try {
    await client.send(new CreateTableCommand(createTableInput(t)));
  } catch (err) {
    if ((err as Error).name !== "ResourceInUseException") throw err;
  }
  for (let i = 0; i < 200; i++) {
    const d = await client.send(new DescribeTableCommand({ TableName: t.name }));
    if (d.Table?.TableStatus === "ACTIVE") return;
    await sleep(10);
  }
  throw new Error(`Table ${t.name} did not become ACTIVE`);
}
