import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { DEFAULTS, visibilityTimeoutSeconds as visibilityTimeout } from "../config";
import { compensateOrderFromEnv } from "../functions/compensateOrder";
import { processPaymentFromEnv } from "../functions/processPayment";
import { ENV } from "../functions/shared/settings";
import { updateInventoryFromEnv } from "../functions/updateInventory";
import { buildOrderWorkflowDefinition } from "../workflow/definition";
import {
  invokeFunctionStatement,
  keyUseStatement,
  logDeliveryStatement,
  policyDocument,
  queueConsumeStatement,
  queueSendStatement,
  serviceTrustPolicy,
  stateMachineTracingStatement,
  tableItemStatement,
  taskCallbackStatement,
} from "./iam";
import { createOrderFunction } from "./orderFunction";

export interface OrderWorkflowArgs {
  keyArn: pulumi.Input<string>;
  orders: { name: pulumi.Input<string>; arn: pulumi.Input<string> };
  inventory: { name: pulumi.Input<string>; arn: pulumi.Input<string> };
  payments: { name: pulumi.Input<string>; arn: pulumi.Input<string> };
  /** send_notification, run when payment and stock succeeded. */
  notifyFunctionArn: pulumi.Input<string>;
  /** process_payment's timeout; the queue's visibility timeout is 6x this. */
  paymentFunctionTimeoutSeconds: number;
  /** Deliveries before a payment message moves to the DLQ. */
  maxReceiveCount: number;
  callbackTimeoutSeconds: number;
  heartbeatSeconds: number;
  paymentDeclineAboveCents: number;
  logRetentionDays: number;
  /** How process_payment consumes the queue (config.ts validates them together). */
  consumer?: PaymentConsumerArgs;
}

/** The payment consumer's throughput settings; defaults are the stack config's (config.ts). */
export interface PaymentConsumerArgs {
  /** Messages per invocation; failures are reported per message. @default 10 */
  batchSize?: number;
  /** Concurrent invocations the event source mapping runs. @default 500 */
  maxConcurrency?: number;
  /** Records of one batch in flight at once. @default 10 */
  recordConcurrency?: number;
  /** A record starts only while this much of the invocation remains. @default 10 */
  recordBudgetSeconds?: number;
  /** Reserved concurrent executions for process_payment. @default none (unreserved) */
  reservedConcurrency?: number;
}

/**
 * The payment queue and its DLQ, the Lambdas that charge, reserve stock and compensate, and the
 * Standard state machine that drives an order through them with a task-token callback.
 */
export class OrderWorkflow extends pulumi.ComponentResource {
  readonly queue: aws.sqs.Queue;
  readonly deadLetterQueue: aws.sqs.Queue;
  readonly stateMachine: aws.sfn.StateMachine;
  readonly processPaymentFunction: aws.lambda.Function;
  readonly updateInventoryFunction: aws.lambda.Function;
  readonly compensateOrderFunction: aws.lambda.Function;

  constructor(name: string, args: OrderWorkflowArgs, opts?: pulumi.ComponentResourceOptions) {
    super("orderflow:index:OrderWorkflow", name, {}, opts);
    const parent = { parent: this };
    const account = aws.getCallerIdentityOutput({}, parent).accountId;
    const partition = aws.getPartitionOutput({}, parent).partition;
    const visibilityTimeoutSeconds = visibilityTimeout(args);
    const queueRetentionSeconds = 4 * 24 * 3600;
    const consumer = {
      batchSize: args.consumer?.batchSize ?? DEFAULTS.paymentBatchSize,
      maxConcurrency: args.consumer?.maxConcurrency ?? DEFAULTS.paymentMaxConcurrency,
      recordConcurrency: args.consumer?.recordConcurrency ?? DEFAULTS.paymentRecordConcurrency,
      recordBudgetSeconds: args.consumer?.recordBudgetSeconds ?? DEFAULTS.paymentRecordBudgetSeconds,
      reservedConcurrency: args.consumer?.reservedConcurrency,
    };

    this.deadLetterQueue = new aws.sqs.Queue(
      `${name}-payments-dlq`,
      {
        kmsMasterKeyId: args.keyArn,
        kmsDataKeyReusePeriodSeconds: 300,
        // Longer than the source queue's, so a message's original age never expires it here first.
        messageRetentionSeconds: 14 * 24 * 3600,
      },
      parent,
    );

    this.queue = new aws.sqs.Queue(
      `${name}-payments`,
      {
        kmsMasterKeyId: args.keyArn,
        kmsDataKeyReusePeriodSeconds: 300,
        visibilityTimeoutSeconds,
        messageRetentionSeconds: queueRetentionSeconds,
        redrivePolicy: this.deadLetterQueue.arn.apply((deadLetterTargetArn) =>
          JSON.stringify({ deadLetterTargetArn, maxReceiveCount: args.maxReceiveCount }),
        ),
      },
      parent,
    );

    // Only the payment queue may move messages to this DLQ (and redrive them back).
    new aws.sqs.RedriveAllowPolicy(
      `${name}-payments-dlq-allow`,
      {
        queueUrl: this.deadLetterQueue.id,
        redriveAllowPolicy: this.queue.arn.apply((arn) =>
          JSON.stringify({ redrivePermission: "byQueue", sourceQueueArns: [arn] }),
        ),
      },
      parent,
    );

    const common = { keyArn: args.keyArn, accountId: account, logRetentionDays: args.logRetentionDays };

    const inventory = createOrderFunction(
      `${name}-update-inventory`,
      {
        ...common,
        handlerId: "updateInventory",
        description: "orderflow: reserve, release and commit stock per order (never below zero)",
        callbackFactory: updateInventoryFromEnv,
        statements: pulumi
          .all([args.inventory.arn, args.keyArn])
          .apply(([table, key]) => [
            tableItemStatement("Inventory", table, ["GetItem", "UpdateItem"]),
            keyUseStatement("EncryptedTable", key, "encrypt"),
          ]),
        environment: { [ENV.inventoryTable]: args.inventory.name },
        timeoutSeconds: 10,
      },
      this,
    );
    this.updateInventoryFunction = inventory.fn;

    const ledgerEnv = {
      [ENV.ordersTable]: args.orders.name,
      [ENV.paymentsTable]: args.payments.name,
      [ENV.inventoryFunction]: inventory.fn.name,
      [ENV.paymentDeclineAboveCents]: String(args.paymentDeclineAboveCents),
    };
    const ledgerStatements = (orders: string, payments: string, inventoryFn: string, key: string) => [
      tableItemStatement("Orders", orders, ["GetItem", "UpdateItem"]),
      tableItemStatement("PaymentLedger", payments, ["GetItem", "PutItem"]),
      invokeFunctionStatement("UpdateInventory", [inventoryFn]),
      keyUseStatement("EncryptedTables", key, "encrypt"),
    ];

    const payment = createOrderFunction(
      `${name}-process-payment`,
      {
        ...common,
        handlerId: "processPayment",
        description: "orderflow: reserve stock, charge once, report the outcome to the workflow",
        callbackFactory: processPaymentFromEnv,
        statements: pulumi
          .all([args.orders.arn, args.payments.arn, inventory.fn.arn, args.keyArn, this.queue.arn])
          .apply(([orders, payments, inventoryFn, key, queue]) => [
            ...ledgerStatements(orders, payments, inventoryFn, key),
            queueConsumeStatement("ConsumePaymentQueue", queue),
            taskCallbackStatement("WorkflowCallback"),
          ]),
        environment: {
          ...ledgerEnv,
          [ENV.paymentRecordConcurrency]: String(consumer.recordConcurrency),
          [ENV.paymentRecordBudgetMs]: String(consumer.recordBudgetSeconds * 1000),
        },
        timeoutSeconds: args.paymentFunctionTimeoutSeconds,
        reservedConcurrency: consumer.reservedConcurrency,
      },
      this,
    );
    this.processPaymentFunction = payment.fn;

    new aws.lambda.EventSourceMapping(
      `${name}-payments-trigger`,
      {
        eventSourceArn: this.queue.arn,
        functionName: payment.fn.arn,
        batchSize: consumer.batchSize,
        // Also what lets a batch exceed 10 messages (SQS event source mappings require a window then).
        maximumBatchingWindowInSeconds: 1,
        functionResponseTypes: ["ReportBatchItemFailures"],
        scalingConfig: { maximumConcurrency: consumer.maxConcurrency },
      },
      parent,
    );

    const compensate = createOrderFunction(
      `${name}-compensate-order`,
      {
        ...common,
        handlerId: "compensateOrder",
        description: "orderflow: refund what was charged, restock what was reserved, mark the order FAILED",
        callbackFactory: compensateOrderFromEnv,
        statements: pulumi
          .all([args.orders.arn, args.payments.arn, inventory.fn.arn, args.keyArn])
          .apply(([orders, payments, inventoryFn, key]) =>
            ledgerStatements(orders, payments, inventoryFn, key),
          ),
        environment: ledgerEnv,
        timeoutSeconds: 20,
      },
      this,
    );
    this.compensateOrderFunction = compensate.fn;

    // Vended-log delivery needs the /aws/vendedlogs/ prefix to stay under the logs resource-policy size limit.
    const stateMachineLogs = new aws.cloudwatch.LogGroup(
      `${name}-state-machine-logs`,
      {
        namePrefix: `/aws/vendedlogs/states/${pulumi.getProject()}-${pulumi.getStack()}-`,
        retentionInDays: args.logRetentionDays,
        kmsKeyId: args.keyArn,
      },
      parent,
    );

    const role = new aws.iam.Role(
      `${name}-state-machine-role`,
      {
        description: "orderflow order workflow: execution role",
        assumeRolePolicy: account.apply((id) =>
          JSON.stringify(serviceTrustPolicy("states.amazonaws.com", id)),
        ),
      },
      parent,
    );
    const rolePolicy = new aws.iam.RolePolicy(
      `${name}-state-machine-policy`,
      {
        role: role.id,
        policy: pulumi
          .all([this.queue.arn, args.notifyFunctionArn, compensate.fn.arn, args.keyArn])
          .apply(([queue, notify, compensateFn, key]) =>
            JSON.stringify(
              policyDocument([
                queueSendStatement("SendPaymentMessage", queue),
                keyUseStatement("EncryptedQueue", key, "encrypt"),
                invokeFunctionStatement("NotifyAndCompensate", [notify, compensateFn]),
                logDeliveryStatement("LogDelivery"),
                stateMachineTracingStatement("Tracing"),
              ]),
            ),
          ),
      },
      parent,
    );

    this.stateMachine = new aws.sfn.StateMachine(
      `${name}-state-machine`,
      {
        type: "STANDARD",
        roleArn: role.arn,
        definition: pulumi
          .all([this.queue.url, args.notifyFunctionArn, compensate.fn.arn, partition])
          .apply(([queueUrl, notifyFunctionArn, compensateFunctionArn, partitionName]) =>
            JSON.stringify(
              buildOrderWorkflowDefinition({
                queueUrl,
                notifyFunctionArn,
                compensateFunctionArn,
                callbackTimeoutSeconds: args.callbackTimeoutSeconds,
                heartbeatSeconds: args.heartbeatSeconds,
                partition: partitionName,
              }),
            ),
          ),
        loggingConfiguration: {
          logDestination: pulumi.interpolate`${stateMachineLogs.arn}:*`,
          includeExecutionData: true,
          level: "ERROR",
        },
        tracingConfiguration: { enabled: true },
      },
      { parent: this, dependsOn: [rolePolicy] },
    );

    this.registerOutputs({
      queueUrl: this.queue.url,
      deadLetterQueueUrl: this.deadLetterQueue.url,
      stateMachineArn: this.stateMachine.arn,
    });
  }
}
