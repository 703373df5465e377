import * as aws from "@pulumi/aws";
import * as awsx from "./awsxClassic";
import * as pulumi from "@pulumi/pulumi";
import { METRIC_DIMENSION, METRIC_NAMESPACE } from "../functions/shared/metrics";

type Metric = awsx.classic.cloudwatch.Metric;
const cw = awsx.classic.cloudwatch;

/** Alarm thresholds (config.ts `alarm*` keys; defaults there). */
export interface AlarmThresholds {
  /** Visible messages in the DLQ. */
  dlqMessages: number;
  /** Executions FAILED, and separately TIMED_OUT, per period. */
  executionsFailed: number;
  /** Errors per function per period. */
  lambdaErrors: number;
  /** Throttles per function per period. */
  lambdaThrottles: number;
  /** Share of API responses that are 5xx, in percent. */
  api5xxPercent: number;
  /** API p99 latency in milliseconds, for three periods in a row. */
  apiLatencyP99Ms: number;
  /** Read or write throttle events per table per period. */
  dynamoThrottles: number;
  /** Orders the sweeper reported as needing a person, per period. */
  stuckOrders: number;
  /** Alarm period in seconds. */
  periodSeconds: number;
}

export interface MonitoringArgs {
  /** The stack's CMK: the ops topic is encrypted with it (its key policy lets CloudWatch alarms use it). */
  keyArn: pulumi.Input<string>;
  /** Subscribed to the ops topic (AWS sends a confirmation mail first). No subscription when absent. */
  alarmEmail?: string;
  queue: aws.sqs.Queue;
  deadLetterQueue: aws.sqs.Queue;
  stateMachine: aws.sfn.StateMachine;
  /** Every Lambda of the stack, by functions/ module name (alarm and widget labels). */
  functions: Record<string, aws.lambda.Function>;
  restApi: aws.apigateway.RestApi;
  stageName: pulumi.Input<string>;
  /** Tables by short name (orders, inventory, payments). */
  tables: Record<string, aws.dynamodb.Table>;
  /**
   * Global secondary indexes by table short name. Each gets its own throttle alarms: a table's
   * metrics leave its indexes out, and a throttled index throttles the table's writes.
   * @default {}
   */
  indexes?: Record<string, readonly string[]>;
  /** The functions that emit the business metrics (EMF, functions/shared/metrics.ts). */
  metricSources: {
    createOrder: aws.lambda.Function;
    sendNotification: aws.lambda.Function;
    compensateOrder: aws.lambda.Function;
    sweepOrders: aws.lambda.Function;
  };
  thresholds: AlarmThresholds;
}

/** What each alarm catches, for docs/operations.md and the alarm descriptions. */
export const ALARM_PURPOSE = {
  dlqMessages:
    "payment messages gave up after maxReceiveCount deliveries (redrive with `npm run redrive-dlq`)",
  executionsFailed:
    "an execution ended FAILED: compensation or notification failed after retries (declines end SUCCEEDED)",
  executionsTimedOut: "an execution hit its overall TimeoutSeconds",
  lambdaErrors: "a function invocation failed (unhandled error or timeout)",
  lambdaThrottles: "a function was throttled (concurrency limit)",
  api5xx: "the API answers 5xx to a share of requests",
  apiLatency: "the API's p99 latency is too high for three periods in a row",
  dynamoReadThrottles: "reads on a table were throttled",
  dynamoWriteThrottles: "writes on a table were throttled",
  indexReadThrottles: "reads on an index were throttled (listing or sweeper queries)",
  indexWriteThrottles:
    "writes to an index were throttled, which throttles the table's writes: a hot shard, or the index needs more shards (ORDER_LIST_SHARDS)",
  stuckOrders: "the sweeper found orders whose records contradict each other: a person must decide",
} as const;

/**
 * Operations for one stack: an encrypted ops topic (e-mail from config), the alarms that tell an
 * operator something needs doing, and a dashboard with the pipeline's health on one screen.
 * Metrics come from AWS namespaces and from the handlers' EMF lines (namespace `Orderflow`).
 */
export class Monitoring extends pulumi.ComponentResource {
  readonly topic: aws.sns.Topic;
  readonly alarms: aws.cloudwatch.MetricAlarm[] = [];
  readonly dashboard: awsx.classic.cloudwatch.Dashboard;
  readonly dashboardUrl: pulumi.Output<string>;

  constructor(name: string, args: MonitoringArgs, opts?: pulumi.ComponentResourceOptions) {
    super("orderflow:index:Monitoring", name, {}, opts);
    const parent = { parent: this };
    const t = args.thresholds;
    const period = t.periodSeconds;

    this.topic = new aws.sns.Topic(`${name}-ops`, { kmsMasterKeyId: args.keyArn }, parent);
    if (args.alarmEmail) {
      new aws.sns.TopicSubscription(
        `${name}-ops-email`,
        { topic: this.topic.arn, protocol: "email", endpoint: args.alarmEmail },
        parent,
      );
    }

    const alarm = (
      suffix: string,
      metric: Metric,
      threshold: number,
      purpose: string,
      extra: { evaluationPeriods?: number; datapointsToAlarm?: number } = {},
    ) => {
      const created = metric.createAlarm(
        `${name}-${suffix}`,
        {
          threshold,
          comparisonOperator: "GreaterThanOrEqualToThreshold",
          evaluationPeriods: extra.evaluationPeriods ?? 1,
          datapointsToAlarm: extra.datapointsToAlarm ?? extra.evaluationPeriods ?? 1,
          // No data means nothing happened (no errors, no messages): not an alarm.
          treatMissingData: "notBreaching",
          alarmActions: [this.topic.arn],
          okActions: [this.topic.arn],
          alarmDescription: `orderflow ${pulumi.getStack()}: ${purpose}`,
        },
        parent,
      );
      this.alarms.push(created);
      return created;
    };

    // ---- queue ----
    const dlqDepth = awsx.classic.sqs.metrics.approximateNumberOfMessagesVisible({
      queue: args.deadLetterQueue,
      statistic: "Maximum",
      period: 60,
    });
    alarm("dlq-messages", dlqDepth, t.dlqMessages, ALARM_PURPOSE.dlqMessages);

    // ---- workflow ----
    const states = (metricName: string) =>
      new cw.Metric({
        namespace: "AWS/States",
        name: metricName,
        dimensions: { StateMachineArn: args.stateMachine.arn },
        statistic: "Sum",
        period,
      });
    alarm(
      "executions-failed",
      states("ExecutionsFailed"),
      t.executionsFailed,
      ALARM_PURPOSE.executionsFailed,
    );
    alarm(
      "executions-timed-out",
      states("ExecutionsTimedOut"),
      t.executionsFailed,
      ALARM_PURPOSE.executionsTimedOut,
    );

    // ---- functions ----
    for (const [id, fn] of Object.entries(args.functions)) {
      const label = kebab(id);
      const change = { function: fn, statistic: "Sum" as const, period };
      alarm(
        `${label}-errors`,
        awsx.classic.lambda.metrics.errors(change),
        t.lambdaErrors,
        `${id}: ${ALARM_PURPOSE.lambdaErrors}`,
      );
      alarm(
        `${label}-throttles`,
        awsx.classic.lambda.metrics.throttles(change),
        t.lambdaThrottles,
        `${id}: ${ALARM_PURPOSE.lambdaThrottles}`,
      );
    }

    // ---- API ----
    const api = { restApi: args.restApi, period };
    const apiStage = { Stage: args.stageName };
    // 5XXError is 0 or 1 per request, so its Average is the 5xx rate (API Gateway metrics docs).
    alarm(
      "api-5xx-rate",
      awsx.classic.apigateway.metrics.error5XX({ ...api, statistic: "Average" }).withDimensions(apiStage),
      t.api5xxPercent / 100,
      ALARM_PURPOSE.api5xx,
    );
    alarm(
      "api-latency-p99",
      awsx.classic.apigateway.metrics
        .latency({ ...api, extendedStatistic: 99, unit: "Milliseconds" })
        .withDimensions(apiStage),
      t.apiLatencyP99Ms,
      ALARM_PURPOSE.apiLatency,
      { evaluationPeriods: 3 },
    );

    // ---- tables ----
    for (const [short, table] of Object.entries(args.tables)) {
      const change = { table, statistic: "Sum" as const, period };
      alarm(
        `${short}-read-throttles`,
        awsx.classic.dynamodb.metrics.readThrottleEvents(change),
        t.dynamoThrottles,
        `${short}: ${ALARM_PURPOSE.dynamoReadThrottles}`,
      );
      alarm(
        `${short}-write-throttles`,
        awsx.classic.dynamodb.metrics.writeThrottleEvents(change),
        t.dynamoThrottles,
        `${short}: ${ALARM_PURPOSE.dynamoWriteThrottles}`,
      );
      for (const index of args.indexes?.[short] ?? []) {
        const onIndex = { ...change, globalSecondaryIndexName: index };
        const label = `${short}-${kebab(index)}`;
        alarm(
          `${label}-read-throttles`,
          awsx.classic.dynamodb.metrics.readThrottleEvents(onIndex),
          t.dynamoThrottles,
          `${short}/${index}: ${ALARM_PURPOSE.indexReadThrottles}`,
        );
        alarm(
          `${label}-write-throttles`,
          awsx.classic.dynamodb.metrics.writeThrottleEvents(onIndex),
          t.dynamoThrottles,
          `${short}/${index}: ${ALARM_PURPOSE.indexWriteThrottles}`,
        );
      }
    }

    // ---- business metrics (EMF) ----
    const business = (
      metricName: string,
      fn: aws.lambda.Function,
      statistic: "Sum" | "Maximum",
      label: string,
    ) =>
      new cw.Metric({
        namespace: METRIC_NAMESPACE,
        name: metricName,
        dimensions: { [METRIC_DIMENSION]: fn.name },
        statistic,
        period,
        label,
      });
    const src = args.metricSources;
    const needingAttention = business(
      "OrdersNeedingAttention",
      src.sweepOrders,
      "Maximum",
      "Stuck, needs a person",
    );
    alarm("stuck-orders", needingAttention, t.stuckOrders, ALARM_PURPOSE.stuckOrders);

    // ---- dashboard ----
    const placed = business("OrdersPlaced", src.createOrder, "Sum", "Orders in");
    const completed = business("OrdersCompleted", src.sendNotification, "Sum", "Completed");
    const failed = business("OrdersFailed", src.compensateOrder, "Sum", "Failed (compensated)");
    const inFlight = business("OrdersInFlight", src.sweepOrders, "Maximum", "In flight");
    const width = 6;
    this.dashboard = new cw.Dashboard(
      `${name}-dashboard`,
      {
        // Dashboards are account-global (one namespace for every region): project, stack and region.
        name: pulumi.interpolate`${pulumi.getProject()}-${pulumi.getStack()}-${aws.getRegionOutput({}, parent).region}`,
        widgets: [
          new cw.RowWidget(
            new cw.TextWidget({
              markdown: `# orderflow ${pulumi.getStack()}\nOrders, workflow, queue and API health. Runbook: docs/operations.md`,
              width: 24,
              height: 2,
            }),
          ),
          new cw.RowWidget(
            new cw.SingleNumberMetricWidget({ title: "Orders in", metrics: [placed], width }),
            new cw.SingleNumberMetricWidget({ title: "Completed", metrics: [completed], width }),
            new cw.SingleNumberMetricWidget({ title: "Failed", metrics: [failed], width }),
            new cw.SingleNumberMetricWidget({ title: "In flight", metrics: [inFlight], width }),
          ),
          new cw.RowWidget(
            new cw.LineGraphMetricWidget({
              title: "Orders",
              metrics: [placed, completed, failed, inFlight],
              width: 12,
            }),
            new cw.LineGraphMetricWidget({
              title: "DLQ depth",
              metrics: [dlqDepth.withLabel("DLQ visible messages")],
              annotations: threshold(t.dlqMessages),
              width: 12,
            }),
          ),
          new cw.RowWidget(
            new cw.LineGraphMetricWidget({
              title: "Executions",
              metrics: [
                "ExecutionsStarted",
                "ExecutionsSucceeded",
                "ExecutionsFailed",
                "ExecutionsTimedOut",
              ].map((m) => states(m).withLabel(m.replace("Executions", ""))),
              width: 12,
            }),
            new cw.LineGraphMetricWidget({
              title: "p99 duration per function (ms)",
              metrics: Object.entries(args.functions).map(([id, fn]) =>
                awsx.classic.lambda.metrics
                  .duration({ function: fn, period, extendedStatistic: 99, unit: "Milliseconds" })
                  .withLabel(id),
              ),
              width: 12,
            }),
          ),
          new cw.RowWidget(
            new cw.LineGraphMetricWidget({
              title: "API 5xx rate",
              metrics: [
                awsx.classic.apigateway.metrics
                  .error5XX({ ...api, statistic: "Average" })
                  .withDimensions(apiStage)
                  .withLabel("5xx rate"),
              ],
              annotations: threshold(t.api5xxPercent / 100),
              width: 12,
            }),
            new cw.LineGraphMetricWidget({
              title: "API p99 latency (ms)",
              metrics: [
                awsx.classic.apigateway.metrics
                  .latency({ ...api, extendedStatistic: 99, unit: "Milliseconds" })
                  .withDimensions(apiStage)
                  .withLabel("p99 latency"),
              ],
              annotations: threshold(t.apiLatencyP99Ms),
              width: 12,
            }),
          ),
        ],
      },
      parent,
    );
    this.dashboardUrl = this.dashboard.url;

    this.registerOutputs({
      opsTopicArn: this.topic.arn,
      dashboardName: this.dashboard.dashboardName,
      dashboardUrl: this.dashboardUrl,
    });
  }
}

const threshold = (value: number) =>
  new awsx.classic.cloudwatch.HorizontalAnnotation({
    aboveEdge: { value, label: "alarm threshold" },
    fill: "above",
  });

const kebab = (id: string) => id.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
