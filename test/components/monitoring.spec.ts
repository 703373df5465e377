import { expect } from "chai";
import { DEFAULTS } from "../../config";
import { MOCK_ACCOUNT, MOCK_REGION } from "../../program/mocks";
import { executionsArnPattern } from "../../components/sweeper";
import {
  byType,
  captureProgram,
  functionFor,
  HANDLER_IDS,
  one,
  RegisteredResource,
  statementsFor,
  T,
} from "../support/program";

const HANDLERS = HANDLER_IDS;
const kebab = (id: string) => id.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);

interface Widget {
  type: string;
  width: number;
  properties: { title?: string; markdown?: string; view?: string; metrics?: unknown[][] };
}

describe("operations under mocks: ops topic, alarms, dashboard, sweeper", function () {
  this.timeout(120_000);
  let all: RegisteredResource[];
  let topicArn: string;
  let keyArn: string;
  const alarm = (suffix: string) => one(all, T.alarm, `-${suffix}`).inputs;
  const fnName = (handlerId: string) => String(functionFor(all, handlerId).state.name);

  before(async () => {
    all = await captureProgram();
    keyArn = String(one(all, T.key).state.arn);
    topicArn = String(one(all, T.topic, "-ops").state.arn);
  });

  it("registers the Monitoring and OrderSweeper components", () => {
    const types = all.map((r) => r.type);
    expect(types).to.include("orderflow:index:Monitoring");
    expect(types).to.include("orderflow:index:OrderSweeper");
  });

  it("ops topic is encrypted with the stack key; no e-mail subscription without alarmEmail", () => {
    expect(one(all, T.topic, "-ops").inputs.kmsMasterKeyId).to.equal(keyArn);
    // The dev stack sets no alarmEmail.
    expect(byType(all, T.subscription).filter((s) => s.name.includes("ops-email"))).to.have.length(0);
  });

  it("every alarm notifies the ops topic on alarm and on recovery, and treats no data as OK", () => {
    const alarms = byType(all, T.alarm);
    // 1 DLQ + 2 executions + 2 per function + 2 API + 2 per table + 2 per orders-table GSI + 1 stuck orders
    expect(alarms).to.have.length(1 + 2 + 2 * HANDLERS.length + 2 + 2 * 3 + 2 * 2 + 1);
    for (const a of alarms) {
      expect(a.inputs.alarmActions, a.name).to.deep.equal([topicArn]);
      expect(a.inputs.okActions, a.name).to.deep.equal([topicArn]);
      expect(a.inputs.treatMissingData, a.name).to.equal("notBreaching");
      expect(a.inputs.comparisonOperator, a.name).to.equal("GreaterThanOrEqualToThreshold");
      expect(a.inputs.actionsEnabled, a.name).to.equal(true);
      expect(String(a.inputs.alarmDescription), a.name).to.match(/^orderflow test: .+/);
    }
  });

  it("DLQ alarm: any visible message in the dead-letter queue, checked every minute", () => {
    const dlq = one(all, T.queue, "-payments-dlq");
    expect(alarm("dlq-messages")).to.include({
      namespace: "AWS/SQS",
      metricName: "ApproximateNumberOfMessagesVisible",
      statistic: "Maximum",
      period: 60,
      threshold: DEFAULTS.alarmDlqMessages,
      evaluationPeriods: 1,
    });
    expect(alarm("dlq-messages").dimensions).to.deep.equal({ QueueName: dlq.state.name });
  });

  for (const [suffix, metricName] of [
    ["executions-failed", "ExecutionsFailed"],
    ["executions-timed-out", "ExecutionsTimedOut"],
  ]) {
    it(`${suffix}: ${metricName} of the order state machine`, () => {
      const machine = one(all, T.stateMachine);
      expect(alarm(suffix)).to.include({
        namespace: "AWS/States",
        metricName,
        statistic: "Sum",
        period: DEFAULTS.alarmPeriodSeconds,
        threshold: DEFAULTS.alarmExecutionsFailed,
      });
      expect(alarm(suffix).dimensions).to.deep.equal({ StateMachineArn: machine.state.arn });
    });
  }

  for (const handlerId of HANDLERS) {
    it(`${handlerId}: Errors and Throttles alarms on its own function`, () => {
      for (const [suffix, metricName, threshold] of [
        ["errors", "Errors", DEFAULTS.alarmLambdaErrors],
        ["throttles", "Throttles", DEFAULTS.alarmLambdaThrottles],
      ] as const) {
        const a = alarm(`${kebab(handlerId)}-${suffix}`);
        expect(a).to.include({ namespace: "AWS/Lambda", metricName, statistic: "Sum", threshold });
        expect(a.dimensions).to.deep.equal({ FunctionName: fnName(handlerId) });
      }
    });
  }

  it("API 5xx rate: Average of 5XXError (the error share) against the configured percentage", () => {
    const api = one(all, T.restApi);
    const a = alarm("api-5xx-rate");
    expect(a).to.include({ namespace: "AWS/ApiGateway", metricName: "5XXError", statistic: "Average" });
    expect(a.threshold).to.equal(DEFAULTS.alarmApi5xxPercent / 100);
    expect(a.dimensions).to.deep.equal({ ApiName: api.state.name, Stage: "v1" });
  });

  it("API latency: p99 in milliseconds, three periods in a row", () => {
    const a = alarm("api-latency-p99");
    expect(a).to.include({
      namespace: "AWS/ApiGateway",
      metricName: "Latency",
      extendedStatistic: "p99",
      threshold: DEFAULTS.alarmApiLatencyP99Ms,
      evaluationPeriods: 3,
      datapointsToAlarm: 3,
    });
    expect(a.statistic).to.equal(undefined);
  });

  for (const table of ["orders", "inventory", "payments"]) {
    it(`${table} table: read and write throttle alarms`, () => {
      const name = one(all, T.table, `-${table}`).state.name;
      for (const [suffix, metricName] of [
        ["read-throttles", "ReadThrottleEvents"],
        ["write-throttles", "WriteThrottleEvents"],
      ]) {
        const a = alarm(`${table}-${suffix}`);
        expect(a).to.include({
          namespace: "AWS/DynamoDB",
          metricName,
          statistic: "Sum",
          threshold: DEFAULTS.alarmDynamoThrottles,
        });
        expect(a.dimensions).to.deep.equal({ TableName: name });
      }
    });
  }

  for (const [index, label] of [
    ["byCreatedAt", "by-created-at"],
    ["byStatus", "by-status"],
  ]) {
    it(`orders table, index ${index}: its own read and write throttle alarms (the table's metric leaves indexes out)`, () => {
      const name = one(all, T.table, "-orders").state.name;
      for (const [suffix, metricName] of [
        ["read-throttles", "ReadThrottleEvents"],
        ["write-throttles", "WriteThrottleEvents"],
      ]) {
        const a = alarm(`orders-${label}-${suffix}`);
        expect(a).to.include({
          namespace: "AWS/DynamoDB",
          metricName,
          statistic: "Sum",
          threshold: DEFAULTS.alarmDynamoThrottles,
        });
        expect(a.dimensions).to.deep.equal({ TableName: name, GlobalSecondaryIndexName: index });
      }
    });
  }

  it("stuck orders: the sweeper's OrdersNeedingAttention EMF metric", () => {
    const a = alarm("stuck-orders");
    expect(a).to.include({
      namespace: "Orderflow",
      metricName: "OrdersNeedingAttention",
      statistic: "Maximum",
      threshold: 1,
    });
    expect(a.dimensions).to.deep.equal({ FunctionName: fnName("sweepOrders") });
  });

  describe("dashboard", () => {
    let widgets: Widget[];
    let dashboard: RegisteredResource;
    const titled = (title: string) => {
      const w = widgets.find((x) => x.properties.title === title);
      if (!w)
        throw new Error(`no widget titled ${title}: ${widgets.map((x) => x.properties.title).join(", ")}`);
      return w;
    };
    const series = (w: Widget) =>
      (w.properties.metrics ?? []).map((m) => m.filter((p) => typeof p === "string"));

    before(() => {
      dashboard = one(all, T.dashboard);
      widgets = (JSON.parse(String(dashboard.inputs.dashboardBody)) as { widgets: Widget[] }).widgets;
    });

    it("is one per stack, named after project, stack and region (dashboards are account-global)", () => {
      expect(dashboard.inputs.dashboardName).to.equal(`orderflow-test-${MOCK_REGION}`);
    });

    it("shows orders in, completed, failed and in flight as single numbers from the handlers' EMF metrics", () => {
      const expected: [string, string, string][] = [
        ["Orders in", "OrdersPlaced", "createOrder"],
        ["Completed", "OrdersCompleted", "sendNotification"],
        ["Failed", "OrdersFailed", "compensateOrder"],
        ["In flight", "OrdersInFlight", "sweepOrders"],
      ];
      for (const [title, metric, handler] of expected) {
        const w = titled(title);
        expect(w.properties.view).to.equal("singleValue");
        expect(series(w)).to.deep.equal([["Orderflow", metric, "FunctionName", fnName(handler)]]);
      }
    });

    it("shows DLQ depth, execution outcomes, API health and p99 duration of every function", () => {
      const dlq = one(all, T.queue, "-payments-dlq");
      expect(series(titled("DLQ depth"))).to.deep.equal([
        ["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", String(dlq.state.name)],
      ]);
      expect(series(titled("Executions")).map((s) => s[1])).to.deep.equal([
        "ExecutionsStarted",
        "ExecutionsSucceeded",
        "ExecutionsFailed",
        "ExecutionsTimedOut",
      ]);
      const p99 = titled("p99 duration per function (ms)");
      expect(
        series(p99)
          .map((s) => s[3])
          .sort(),
      ).to.deep.equal(HANDLERS.map(fnName).sort());
      for (const m of p99.properties.metrics!) expect(m[m.length - 1]).to.include({ stat: "p99" });
      expect(series(titled("API 5xx rate"))[0].slice(0, 2)).to.deep.equal(["AWS/ApiGateway", "5XXError"]);
      expect(series(titled("API p99 latency (ms)"))[0].slice(0, 2)).to.deep.equal([
        "AWS/ApiGateway",
        "Latency",
      ]);
    });
  });

  describe("sweeper", () => {
    it("runs sweep_orders every sweepIntervalMinutes through an EventBridge rule, invokable only by that rule", () => {
      const rule = one(all, T.eventRule, "-sweep-schedule");
      expect(rule.inputs.scheduleExpression).to.equal(`rate(${DEFAULTS.sweepIntervalMinutes} minutes)`);
      const fn = functionFor(all, "sweepOrders");
      const target = one(all, T.eventTarget, "-sweep-target");
      expect(target.inputs).to.include({ rule: rule.state.name, arn: fn.state.arn });
      const permission = one(all, T.permission, "-sweep-invoke");
      expect(permission.inputs).to.include({
        action: "lambda:InvokeFunction",
        function: fn.state.name,
        principal: "events.amazonaws.com",
        sourceArn: rule.state.arn,
      });
    });

    it("is told what 'stuck' means (callback timeout + margin) and where to act", () => {
      const fn = functionFor(all, "sweepOrders");
      const env = (fn.inputs.environment as { variables: Record<string, string> }).variables;
      const dev = 1200; // Pulumi.dev.yaml callbackTimeoutSeconds
      expect(env).to.deep.equal({
        ORDERS_TABLE: one(all, T.table, "-orders").state.name,
        PAYMENTS_TABLE: one(all, T.table, "-payments").state.name,
        INVENTORY_TABLE: one(all, T.table, "-inventory").state.name,
        STATE_MACHINE_ARN: one(all, T.stateMachine).state.arn,
        STUCK_AFTER_SECONDS: String(dev + DEFAULTS.sweepMarginSeconds),
        COMPENSATE_FUNCTION_NAME: fnName("compensateOrder"),
        NOTIFY_FUNCTION_NAME: fnName("sendNotification"),
        INVENTORY_FUNCTION_NAME: fnName("updateInventory"),
      });
    });

    it("has a least-privilege role: exactly these actions on exactly these resources", () => {
      const fn = functionFor(all, "sweepOrders");
      const machine = String(one(all, T.stateMachine).state.arn);
      const orders = String(one(all, T.table, "-orders").state.arn);
      const payments = String(one(all, T.table, "-payments").state.arn);
      const inventory = String(one(all, T.table, "-inventory").state.arn);
      const settle = ["compensateOrder", "sendNotification", "updateInventory"].map((h) =>
        String(functionFor(all, h).state.arn),
      );
      const logGroup = byType(all, T.logGroup).find((g) => g.name.endsWith("-sweep-orders-logs"))!;
      expect(statementsFor(all, fn)).to.deep.equal([
        {
          Sid: "WriteOwnLogs",
          Effect: "Allow",
          Action: ["logs:CreateLogStream", "logs:PutLogEvents"],
          Resource: [`${logGroup.state.arn}:*`],
        },
        {
          Sid: "Tracing",
          Effect: "Allow",
          Action: ["xray:PutTraceSegments", "xray:PutTelemetryRecords"],
          Resource: ["*"],
        },
        { Sid: "DecryptEnvironment", Effect: "Allow", Action: ["kms:Decrypt"], Resource: [keyArn] },
        {
          Sid: "QueryOrdersByStatus",
          Effect: "Allow",
          Action: ["dynamodb:Query"],
          Resource: [`${orders}/index/byStatus`],
        },
        { Sid: "ReadOrders", Effect: "Allow", Action: ["dynamodb:GetItem"], Resource: [orders] },
        { Sid: "ReadLedger", Effect: "Allow", Action: ["dynamodb:GetItem"], Resource: [payments] },
        { Sid: "ScanReservations", Effect: "Allow", Action: ["dynamodb:Scan"], Resource: [inventory] },
        { Sid: "EncryptedTable", Effect: "Allow", Action: ["kms:Decrypt"], Resource: [keyArn] },
        {
          Sid: "DescribeOrderExecutions",
          Effect: "Allow",
          Action: ["states:DescribeExecution"],
          Resource: [`arn:aws:states:${MOCK_REGION}:${MOCK_ACCOUNT}:execution:${machine.split(":").pop()}:*`],
        },
        {
          Sid: "StartMissingExecution",
          Effect: "Allow",
          Action: ["states:StartExecution"],
          Resource: [machine],
        },
        {
          Sid: "SettleOrders",
          Effect: "Allow",
          Action: ["lambda:InvokeFunction"],
          Resource: settle.flatMap((arn) => [arn, `${arn}:*`]),
        },
      ]);
    });

    it("executionsArnPattern rejects what is not a state machine ARN", () => {
      expect(() => executionsArnPattern("arn:aws:lambda:us-east-1:1:function:x")).to.throw(
        /not a state machine ARN/,
      );
      expect(executionsArnPattern("arn:aws:states:eu-west-1:1:stateMachine:m")).to.equal(
        "arn:aws:states:eu-west-1:1:execution:m:*",
      );
    });
  });
});
