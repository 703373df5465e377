import * as pulumi from "@pulumi/pulumi";
import { Monitoring } from "./components/monitoring";
import { Notifications } from "./components/notifications";
import { OrderApi } from "./components/orderApi";
import { ORDER_INDEXES, OrderData } from "./components/orderData";
import { OrderWorkflow } from "./components/orderWorkflow";
import { OrderSweeper } from "./components/sweeper";
import { loadStackConfig } from "./config";

const config = loadStackConfig();
const name = `orderflow-${pulumi.getStack()}`;

const data = new OrderData(name, {
  catalogue: config.catalogue,
  deletionProtection: config.deletionProtection,
});

const notifications = new Notifications(name, {
  keyArn: data.key.arn,
  ordersTableArn: data.orders.arn,
  ordersTableName: data.orders.name,
  emails: config.notificationEmails,
  smsNumbers: config.notificationSmsNumbers,
  logRetentionDays: config.logRetentionDays,
});

const workflow = new OrderWorkflow(name, {
  keyArn: data.key.arn,
  orders: data.orders,
  inventory: data.inventory,
  payments: data.payments,
  notifyFunctionArn: notifications.notifyFunction.arn,
  paymentFunctionTimeoutSeconds: config.paymentFunctionTimeoutSeconds,
  maxReceiveCount: config.maxReceiveCount,
  callbackTimeoutSeconds: config.callbackTimeoutSeconds,
  heartbeatSeconds: config.heartbeatSeconds,
  paymentDeclineAboveCents: config.paymentDeclineAboveCents,
  logRetentionDays: config.logRetentionDays,
  consumer: {
    batchSize: config.paymentBatchSize,
    maxConcurrency: config.paymentMaxConcurrency,
    recordConcurrency: config.paymentRecordConcurrency,
    recordBudgetSeconds: config.paymentRecordBudgetSeconds,
    reservedConcurrency: config.paymentReservedConcurrency,
  },
});

const api = new OrderApi(name, {
  keyArn: data.key.arn,
  orders: data.orders,
  inventory: data.inventory,
  stateMachineArn: workflow.stateMachine.arn,
  allowedOrigins: config.allowedOrigins,
  rateLimit: config.apiRateLimit,
  burstLimit: config.apiBurstLimit,
  stageRateLimit: config.apiStageRateLimit,
  stageBurstLimit: config.apiStageBurstLimit,
  quotaLimit: config.apiQuotaLimit,
  quotaPeriod: config.apiQuotaPeriod,
  logRetentionDays: config.logRetentionDays,
  manageAccountSettings: config.manageApiGatewayAccount,
});

const sweeper = new OrderSweeper(name, {
  keyArn: data.key.arn,
  orders: data.orders,
  payments: data.payments,
  inventory: data.inventory,
  stateMachineArn: workflow.stateMachine.arn,
  compensateFunction: workflow.compensateOrderFunction,
  notifyFunction: notifications.notifyFunction,
  inventoryFunction: workflow.updateInventoryFunction,
  stuckAfterSeconds: config.callbackTimeoutSeconds + config.sweepMarginSeconds,
  intervalMinutes: config.sweepIntervalMinutes,
  logRetentionDays: config.logRetentionDays,
});

const monitoring = new Monitoring(name, {
  keyArn: data.key.arn,
  alarmEmail: config.alarmEmail,
  queue: workflow.queue,
  deadLetterQueue: workflow.deadLetterQueue,
  stateMachine: workflow.stateMachine,
  functions: {
    ...api.functions,
    processPayment: workflow.processPaymentFunction,
    updateInventory: workflow.updateInventoryFunction,
    compensateOrder: workflow.compensateOrderFunction,
    sendNotification: notifications.notifyFunction,
    sweepOrders: sweeper.function,
  },
  restApi: api.restApi,
  stageName: api.stage.stageName,
  tables: { orders: data.orders, inventory: data.inventory, payments: data.payments },
  indexes: { orders: Object.values(ORDER_INDEXES) },
  metricSources: {
    createOrder: api.functions.createOrder,
    sendNotification: notifications.notifyFunction,
    compensateOrder: workflow.compensateOrderFunction,
    sweepOrders: sweeper.function,
  },
  thresholds: {
    dlqMessages: config.alarmDlqMessages,
    executionsFailed: config.alarmExecutionsFailed,
    lambdaErrors: config.alarmLambdaErrors,
    lambdaThrottles: config.alarmLambdaThrottles,
    api5xxPercent: config.alarmApi5xxPercent,
    apiLatencyP99Ms: config.alarmApiLatencyP99Ms,
    dynamoThrottles: config.alarmDynamoThrottles,
    stuckOrders: config.alarmStuckOrders,
    periodSeconds: config.alarmPeriodSeconds,
  },
});

export const apiUrl = api.url;
export const apiKey = pulumi.secret(api.apiKey.value);
export const stateMachineArn = workflow.stateMachine.arn;
export const queueUrl = workflow.queue.url;
export const deadLetterQueueUrl = workflow.deadLetterQueue.url;
export const topicArn = notifications.topic.arn;
export const ordersTable = data.orders.name;
export const inventoryTable = data.inventory.name;
export const paymentsTable = data.payments.name;
export const opsTopicArn = monitoring.topic.arn;
export const dashboardUrl = monitoring.dashboardUrl;
export const sweeperFunctionName = sweeper.function.name;
