import {
  DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  QueryCommand,
  UpdateItemCommand,
  type AttributeValue,
} from "@aws-sdk/client-dynamodb";
import { marshall, unmarshall } from "@aws-sdk/util-dynamodb";
import { ifConditionHolds } from "./errors";
import type { TransitionChanges } from "./status";
import type { Order, OrderStatus } from "./types";

/** GSIs of the orders table (projection ALL). */
export const ORDER_INDEXES = {
  /** hash `entity` (always "ORDER"), range `createdAt`: every order, by age. */
  byCreatedAt: "byCreatedAt",
  /** hash `status`, range `createdAt`. */
  byStatus: "byStatus",
} as const;

/** A listing position: the LastEvaluatedKey of a GSI query (table key + index keys). */
export type OrderCursor = Record<string, string>;

export interface ListOrdersQuery {
  status?: OrderStatus;
  limit: number;
  startKey?: OrderCursor;
}

export interface OrderPage {
  items: Order[];
  lastKey?: OrderCursor;
}

/** The orders table. One AWS call per method. */
export interface OrderStore {
  get(orderId: string, options?: { consistent?: boolean }): Promise<Order | undefined>;
  /** Conditional put; false when an order with this id already exists (nothing written). */
  create(order: Order): Promise<boolean>;
  /**
   * Sets `status = to` (and the given changes) only if the current status is one of `from`.
   * Returns the order after the change, or undefined when the condition failed.
   * Use `transitionOrder` (status.ts) rather than calling this directly.
   */
  updateStatus(
    orderId: string,
    from: readonly OrderStatus[],
    to: OrderStatus,
    changes: TransitionChanges,
  ): Promise<Order | undefined>;
  list(query: ListOrdersQuery): Promise<OrderPage>;
  /**
   * Turns the given compensation flags of a FAILED order's `failure` to true (never back to
   * false, so concurrent compensations only add facts). Undefined if the order is not FAILED or
   * has no `failure` yet.
   */
  setFailureFlags(
    orderId: string,
    flags: { refunded?: true; restocked?: true; compensatedAt?: string },
    updatedAt: string,
  ): Promise<Order | undefined>;
  /** Sets notifiedAt (+ message id) once; false when it was already set. */
  markNotified(orderId: string, notifiedAt: string, messageId: string): Promise<boolean>;
}

function toOrder(item: Record<string, AttributeValue>): Order {
  return unmarshall(item) as Order;
}

export function dynamoOrderStore(client: DynamoDBClient, tableName: string): OrderStore {
  const key = (orderId: string) => ({ orderId: { S: orderId } });

  /** Runs a conditional update; undefined when the condition failed. */
  const conditionalUpdate = async (
    input: Omit<ConstructorParameters<typeof UpdateItemCommand>[0], "TableName" | "ReturnValues">,
  ): Promise<Order | undefined> => {
    const out = await ifConditionHolds(
      client.send(new UpdateItemCommand({ ...input, TableName: tableName, ReturnValues: "ALL_NEW" })),
    );
    return out?.Attributes ? toOrder(out.Attributes) : undefined;
  };

  return {
    async get(orderId, options = {}) {
      const out = await client.send(
        new GetItemCommand({
          TableName: tableName,
          Key: key(orderId),
          ConsistentRead: options.consistent === true,
        }),
      );
      return out.Item ? toOrder(out.Item) : undefined;
    },

    async create(order) {
      const out = await ifConditionHolds(
        client.send(
          new PutItemCommand({
            TableName: tableName,
            Item: marshall(order, { removeUndefinedValues: true }),
            ConditionExpression: "attribute_not_exists(orderId)",
          }),
        ),
      );
      return out !== undefined;
    },

    async updateStatus(orderId, from, to, changes) {
      if (from.length === 0) return undefined;
      const values: Record<string, unknown> = { ":to": to, ":now": changes.updatedAt };
      const sets = ["#status = :to", "updatedAt = :now"];
      if (changes.chargeId !== undefined) {
        sets.push("chargeId = :chargeId");
        values[":chargeId"] = changes.chargeId;
      }
      if (changes.failure !== undefined) {
        sets.push("failure = :failure");
        values[":failure"] = changes.failure;
      }
      const fromNames = from.map((_, i) => `:from${i}`);
      from.forEach((s, i) => (values[`:from${i}`] = s));
      return conditionalUpdate({
        Key: key(orderId),
        UpdateExpression: `SET ${sets.join(", ")}`,
        ConditionExpression: `#status IN (${fromNames.join(", ")})`,
        ExpressionAttributeNames: { "#status": "status" },
        ExpressionAttributeValues: marshall(values, { removeUndefinedValues: true }),
      });
    },

    async list({ status, limit, startKey }) {
      const byStatus = status !== undefined;
      const out = await client.send(
        new QueryCommand({
          TableName: tableName,
          IndexName: byStatus ? ORDER_INDEXES.byStatus : ORDER_INDEXES.byCreatedAt,
          KeyConditionExpression: "#pk = :pk",
          ExpressionAttributeNames: { "#pk": byStatus ? "status" : "entity" },
          ExpressionAttributeValues: { ":pk": { S: byStatus ? status : "ORDER" } },
          ScanIndexForward: false,
          Limit: limit,
          ExclusiveStartKey: startKey ? marshall(startKey) : undefined,
        }),
      );
      return {
        items: (out.Items ?? []).map(toOrder),
        lastKey: out.LastEvaluatedKey ? (unmarshall(out.LastEvaluatedKey) as OrderCursor) : undefined,
      };
    },

    async setFailureFlags(orderId, flags, updatedAt) {
      const sets = ["updatedAt = :now"];
      if (flags.refunded) sets.push("failure.refunded = :true");
      if (flags.restocked) sets.push("failure.restocked = :true");
      const values: Record<string, unknown> = { ":now": updatedAt, ":failed": "FAILED" };
      // DynamoDB refuses a value the expression does not use.
      if (flags.refunded || flags.restocked) values[":true"] = true;
      if (flags.compensatedAt) {
        // The first finish is the one: a repeated compensation does not move it.
        sets.push("failure.compensatedAt = if_not_exists(failure.compensatedAt, :at)");
        values[":at"] = flags.compensatedAt;
      }
      return conditionalUpdate({
        Key: key(orderId),
        UpdateExpression: `SET ${sets.join(", ")}`,
        ConditionExpression: "#status = :failed AND attribute_exists(failure)",
        ExpressionAttributeNames: { "#status": "status" },
        ExpressionAttributeValues: marshall(values),
      });
    },

    async markNotified(orderId, notifiedAt, messageId) {
      const updated = await conditionalUpdate({
        Key: key(orderId),
        UpdateExpression: "SET notifiedAt = :at, notificationId = :mid, updatedAt = :at",
        ConditionExpression: "attribute_exists(orderId) AND attribute_not_exists(notifiedAt)",
        ExpressionAttributeValues: marshall({ ":at": notifiedAt, ":mid": messageId }),
      });
      return updated !== undefined;
    },
  };
}
