import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import type { StackConfig } from "../config";
import { ORDER_INDEX_KEYS, ORDER_INDEXES, ORDER_LIST_ATTRIBUTES } from "../functions/shared/orderStore";

export interface OrderDataArgs {
  /** Seed catalogue, written when the stack is created and never overwritten afterwards. */
  catalogue: StackConfig["catalogue"];
  deletionProtection: boolean;
}

/** The handlers' index names (functions/shared/orderStore.ts) are the ones this table defines. */
export { ORDER_INDEXES };

/** The orders table's GSIs: sharded hash keys, a unique range key, INCLUDE projection. */
export const ORDER_GSIS = [
  {
    name: ORDER_INDEXES.byCreatedAt,
    hashKey: ORDER_INDEX_KEYS.listShard,
    rangeKey: ORDER_INDEX_KEYS.listSort,
    projectionType: "INCLUDE",
    nonKeyAttributes: ORDER_LIST_ATTRIBUTES,
  },
  {
    name: ORDER_INDEXES.byStatus,
    hashKey: ORDER_INDEX_KEYS.statusShard,
    rangeKey: ORDER_INDEX_KEYS.listSort,
    projectionType: "INCLUDE",
    nonKeyAttributes: ORDER_LIST_ATTRIBUTES,
  },
] as const;

/**
 * The stack's customer-managed key and its three tables: orders, inventory (catalogue + stock +
 * reservation markers) and the payment ledger. On-demand, CMK-encrypted, point-in-time recovery.
 */
export class OrderData extends pulumi.ComponentResource {
  readonly key: aws.kms.Key;
  readonly orders: aws.dynamodb.Table;
  readonly inventory: aws.dynamodb.Table;
  readonly payments: aws.dynamodb.Table;

  constructor(name: string, args: OrderDataArgs, opts?: pulumi.ComponentResourceOptions) {
    super("orderflow:index:OrderData", name, {}, opts);
    const parent = { parent: this };
    const identity = aws.getCallerIdentityOutput({}, parent);
    const region = aws.getRegionOutput({}, parent);
    const partition = aws.getPartitionOutput({}, parent);

    this.key = new aws.kms.Key(
      `${name}-key`,
      {
        description: `orderflow ${pulumi.getStack()}: tables, queues, topics, logs, Lambda environment`,
        enableKeyRotation: true,
        deletionWindowInDays: 30,
        policy: pulumi
          .all([identity.accountId, partition.partition, region.region, partition.dnsSuffix])
          .apply(([account, partitionName, regionName, dnsSuffix]) =>
            JSON.stringify(keyPolicy(account, partitionName, regionName, dnsSuffix)),
          ),
      },
      parent,
    );
    new aws.kms.Alias(
      `${name}-key-alias`,
      // Aliases are per account and region: project and stack keep two projects' stacks apart.
      { name: `alias/${pulumi.getProject()}-${pulumi.getStack()}`, targetKeyId: this.key.keyId },
      parent,
    );

    const common = (hashKey: string) => ({
      billingMode: "PAY_PER_REQUEST",
      hashKey,
      serverSideEncryption: { enabled: true, kmsKeyArn: this.key.arn },
      pointInTimeRecovery: { enabled: true },
      deletionProtectionEnabled: args.deletionProtection,
    });

    this.orders = new aws.dynamodb.Table(
      `${name}-orders`,
      {
        ...common("orderId"),
        attributes: [
          { name: "orderId", type: "S" },
          { name: ORDER_INDEX_KEYS.listShard, type: "S" },
          { name: ORDER_INDEX_KEYS.statusShard, type: "S" },
          { name: ORDER_INDEX_KEYS.listSort, type: "S" },
        ],
        // Listing newest-first: one index for all orders, one by status, both write-sharded
        // (functions/shared/orderStore.ts) and projecting only what a listing returns.
        globalSecondaryIndexes: ORDER_GSIS.map((g) => ({ ...g, nonKeyAttributes: [...g.nonKeyAttributes] })),
      },
      parent,
    );

    this.inventory = new aws.dynamodb.Table(
      `${name}-inventory`,
      { ...common("sku"), attributes: [{ name: "sku", type: "S" }] },
      parent,
    );

    this.payments = new aws.dynamodb.Table(
      `${name}-payments`,
      {
        ...common("orderId"),
        rangeKey: "entry",
        attributes: [
          { name: "orderId", type: "S" },
          { name: "entry", type: "S" },
        ],
      },
      parent,
    );

    for (const entry of args.catalogue) {
      new aws.dynamodb.TableItem(
        `${name}-catalogue-${entry.sku}`,
        {
          tableName: this.inventory.name,
          hashKey: "sku",
          item: JSON.stringify(catalogueItem(entry)),
        },
        // Stock changes with every order: a later `pulumi up` must not reset it to the seed.
        { parent: this, ignoreChanges: ["item"] },
      );
    }

    this.registerOutputs({
      keyArn: this.key.arn,
      ordersTable: this.orders.name,
      inventoryTable: this.inventory.name,
      paymentsTable: this.payments.name,
    });
  }
}

/** DynamoDB JSON for a seed entry, with the empty reservation map the inventory handler expects. */
export function catalogueItem(entry: StackConfig["catalogue"][number]) {
  return {
    sku: { S: entry.sku },
    price: { N: String(entry.price) },
    stock: { N: String(entry.stock) },
    reservations: { M: {} },
    ...(entry.name ? { name: { S: entry.name } } : {}),
  };
}

/**
 * Key policy: IAM policies in this account decide who uses the key (the default statement, which
 * names the account, not `*`); CloudWatch Logs may use it only for this account's log groups, and
 * CloudWatch alarms only to publish to this account's encrypted topics.
 */
export function keyPolicy(account: string, partition: string, region: string, dnsSuffix = "amazonaws.com") {
  return {
    Version: "2012-10-17",
    Statement: [
      {
        Sid: "AccountIamPolicies",
        Effect: "Allow",
        Principal: { AWS: `arn:${partition}:iam::${account}:root` },
        Action: "kms:*",
        Resource: "*",
      },
      {
        Sid: "CloudWatchLogs",
        Effect: "Allow",
        // Regional principal; `amazonaws.com.cn` in China ([KMS for logs](https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/encrypt-log-data-kms.html)).
        Principal: { Service: `logs.${region}.${dnsSuffix}` },
        Action: ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey"],
        Resource: "*",
        Condition: {
          ArnLike: {
            "kms:EncryptionContext:aws:logs:arn": `arn:${partition}:logs:${region}:${account}:log-group:*`,
          },
        },
      },
      {
        Sid: "CloudWatchAlarmsToEncryptedTopics",
        Effect: "Allow",
        Principal: { Service: "cloudwatch.amazonaws.com" },
        Action: ["kms:Decrypt", "kms:GenerateDataKey*"],
        Resource: "*",
        Condition: { StringEquals: { "aws:SourceAccount": account } },
      },
    ],
  };
}
