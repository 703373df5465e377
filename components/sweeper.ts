import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { sweepOrdersFromEnv } from "../functions/sweepOrders";
import { ORDER_INDEXES } from "../functions/shared/orderStore";
import { ENV } from "../functions/shared/settings";
import {
  invokeFunctionStatement,
  keyUseStatement,
  PolicyStatement,
  startExecutionStatement,
  tableItemStatement,
  tableQueryStatement,
} from "./iam";
import { createOrderFunction } from "./orderFunction";

export interface OrderSweeperArgs {
  keyArn: pulumi.Input<string>;
  orders: { name: pulumi.Input<string>; arn: pulumi.Input<string> };
  /** The ledger: read to tell a charged order from an uncharged one. */
  payments: { name: pulumi.Input<string>; arn: pulumi.Input<string> };
  /** Scanned for reservation markers left on terminal orders. */
  inventory: { name: pulumi.Input<string>; arn: pulumi.Input<string> };
  stateMachineArn: pulumi.Input<string>;
  compensateFunction: { name: pulumi.Input<string>; arn: pulumi.Input<string> };
  /** send_notification: completes a PAID order whose execution is gone. */
  notifyFunction: { name: pulumi.Input<string>; arn: pulumi.Input<string> };
  /** update_inventory: commits the markers of a completed order. */
  inventoryFunction: { name: pulumi.Input<string>; arn: pulumi.Input<string> };
  /** An order non-terminal for longer than this is stuck: the callback timeout plus a margin. */
  stuckAfterSeconds: number;
  /** Minutes between runs. */
  intervalMinutes: number;
  logRetentionDays: number;
}

/**
 * Executions of a state machine: `arn:<p>:states:<r>:<a>:stateMachine:<name>` ->
 * `arn:<p>:states:<r>:<a>:execution:<name>:*` (DescribeExecution is authorized on the execution).
 */
export function executionsArnPattern(stateMachineArn: string): string {
  const parts = stateMachineArn.split(":");
  if (parts.length !== 7 || parts[5] !== "stateMachine")
    throw new Error(`not a state machine ARN: ${stateMachineArn}`);
  return [...parts.slice(0, 5), "execution", parts[6], "*"].join(":");
}

/**
 * What sweep_orders may do, and why each action:
 * - `dynamodb:Query` on the orders table's byStatus index: list non-terminal (and recent FAILED) orders;
 * - `dynamodb:GetItem` on the orders table: the current status of an order holding stock;
 * - `dynamodb:GetItem` on the payments table: is there a CHARGE / REFUND for the order;
 * - `dynamodb:Scan` on the inventory table: reservation markers (the catalogue is small);
 * - `kms:Decrypt` on the stack key: the tables are encrypted with it (read only, no data keys);
 * - `states:DescribeExecution` on this state machine's executions: was the order's execution started, did it end;
 * - `states:StartExecution` on this state machine: restart an order that has no execution (name = orderId);
 * - `lambda:InvokeFunction` on compensate_order, send_notification and update_inventory: settle
 *   an order through the same idempotent steps the workflow runs (compensate, complete, commit).
 */
export function sweeperStatements(arns: {
  orders: string;
  payments: string;
  inventory: string;
  key: string;
  stateMachine: string;
  functions: string[];
}): PolicyStatement[] {
  const { orders: ordersArn, key: keyArn, stateMachine: stateMachineArn } = arns;
  return [
    tableQueryStatement("QueryOrdersByStatus", ordersArn, ORDER_INDEXES.byStatus),
    tableItemStatement("ReadOrders", ordersArn, ["GetItem"]),
    tableItemStatement("ReadLedger", arns.payments, ["GetItem"]),
    { Sid: "ScanReservations", Effect: "Allow", Action: ["dynamodb:Scan"], Resource: [arns.inventory] },
    keyUseStatement("EncryptedTable", keyArn, "decrypt"),
    {
      Sid: "DescribeOrderExecutions",
      Effect: "Allow",
      Action: ["states:DescribeExecution"],
      Resource: [executionsArnPattern(stateMachineArn)],
    },
    startExecutionStatement("StartMissingExecution", stateMachineArn),
    invokeFunctionStatement("SettleOrders", arns.functions),
  ];
}

/**
 * sweep_orders on a schedule (EventBridge rule -> Lambda): settles orders stuck in a non-terminal
 * status past the callback timeout and loose ends on terminal ones (functions/sweepOrders.ts).
 */
export class OrderSweeper extends pulumi.ComponentResource {
  readonly function: aws.lambda.Function;
  readonly rule: aws.cloudwatch.EventRule;

  constructor(name: string, args: OrderSweeperArgs, opts?: pulumi.ComponentResourceOptions) {
    super("orderflow:index:OrderSweeper", name, {}, opts);
    const parent = { parent: this };
    if (!Number.isInteger(args.intervalMinutes) || args.intervalMinutes < 1) {
      throw new Error(`OrderSweeper ${name}: intervalMinutes must be a positive integer`);
    }

    const accountId = aws.getCallerIdentityOutput({}, parent).accountId;
    const sweeper = createOrderFunction(
      `${name}-sweep-orders`,
      {
        handlerId: "sweepOrders",
        description: "orderflow: settle orders no execution will settle (complete, compensate or restart)",
        callbackFactory: sweepOrdersFromEnv,
        statements: pulumi
          .all([
            args.orders.arn,
            args.payments.arn,
            args.inventory.arn,
            args.keyArn,
            args.stateMachineArn,
            args.compensateFunction.arn,
            args.notifyFunction.arn,
            args.inventoryFunction.arn,
          ])
          .apply(([orders, payments, inventory, key, stateMachine, ...functions]) =>
            sweeperStatements({ orders, payments, inventory, key, stateMachine, functions }),
          ),
        environment: {
          [ENV.ordersTable]: args.orders.name,
          [ENV.paymentsTable]: args.payments.name,
          [ENV.inventoryTable]: args.inventory.name,
          [ENV.stateMachineArn]: args.stateMachineArn,
          [ENV.stuckAfterSeconds]: String(args.stuckAfterSeconds),
          [ENV.compensateFunction]: args.compensateFunction.name,
          [ENV.notifyFunction]: args.notifyFunction.name,
          [ENV.inventoryFunction]: args.inventoryFunction.name,
        },
        keyArn: args.keyArn,
        accountId,
        logRetentionDays: args.logRetentionDays,
        // Each order is a DescribeExecution, up to three reads by key and at most one start,
        // completion or compensation (invoked synchronously, up to 20 s), plus one inventory Scan
        // per run. The handler stops starting orders with 30 s left (reserveMs) and after 100
        // actions, and reports `truncated`: the next run carries on, so no run hits this timeout.
        timeoutSeconds: 120,
      },
      this,
    );
    this.function = sweeper.fn;

    this.rule = new aws.cloudwatch.EventRule(
      `${name}-sweep-schedule`,
      {
        description: "orderflow: run sweep_orders",
        scheduleExpression:
          args.intervalMinutes === 1 ? "rate(1 minute)" : `rate(${args.intervalMinutes} minutes)`,
      },
      parent,
    );
    new aws.cloudwatch.EventTarget(
      `${name}-sweep-target`,
      {
        rule: this.rule.name,
        arn: sweeper.fn.arn,
        retryPolicy: { maximumRetryAttempts: 0, maximumEventAgeInSeconds: 60 },
      },
      parent,
    );
    new aws.lambda.Permission(
      `${name}-sweep-invoke`,
      {
        action: "lambda:InvokeFunction",
        function: sweeper.fn.name,
        principal: "events.amazonaws.com",
        sourceArn: this.rule.arn,
      },
      parent,
    );

    this.registerOutputs({ sweeperFunctionName: this.function.name, scheduleRuleArn: this.rule.arn });
  }
}
