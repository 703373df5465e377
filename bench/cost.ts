/**
 * Part 4: what a million orders cost on AWS, per path (success, declined), from:
 *   - state transitions: the registered state machine's definition, walked along each path
 *     (a transition per state entered; retries count zero, as the issue asks);
 *   - Lambda requests and GB-seconds: the invocations one order needed offline (bench/pipeline),
 *     each function's configured memory and its measured median duration (rounded up to 1 ms);
 *   - API Gateway: one POST /orders (a client's GET polling is not counted);
 *   - SQS: the payment message's SendMessage + DeleteMessageBatch counted offline, plus one
 *     ReceiveMessage per message (the offline poller's idle polls are not what AWS's event source
 *     mapping does, and its long polls are a fixed cost, not a per-order one);
 *   - SNS: one Publish per completed order, plus the e-mail deliveries per configured subscriber;
 *   - DynamoDB: write and read requests counted offline, at 1 WRU / 1 RRU each (items < 1 KB,
 *     reads < 4 KB; a BatchGetItem of one SKU reads one item);
 *   - CloudWatch Logs: the bytes handlers logged offline plus Lambda's START/END/REPORT lines.
 * Prices: bench/prices/<region>.json (dated).
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { HANDLER_TAG } from "../components/handlerTag";
import type { RegisteredResource } from "../program/mocks";
import type { PathCounts, PipelineFigure } from "./pipeline";
import { round } from "./stats";

/** START, END and REPORT lines Lambda writes per invocation (Text format, X-Ray on), bytes. */
const PLATFORM_LOG_BYTES_PER_INVOCATION = 360;

interface Prices {
  asOf: string;
  region: string;
  stepFunctionsStandardPerTransition: number;
  lambdaArm64PerGbSecond: number;
  lambdaX86PerGbSecond: number;
  lambdaPerMillionRequests: number;
  apiGatewayRestPerMillionRequests: number;
  sqsStandardPerMillionRequests: number;
  snsPublishPerMillion: number;
  snsEmailPer100k: number;
  dynamodbOnDemandPerMillionWriteUnits: number;
  dynamodbOnDemandPerMillionReadUnits: number;
  cloudwatchLogsIngestionPerGb: number;
}

type State = { Type: string; Next?: string; End?: boolean; Catch?: { Next: string }[] };

export interface PathCost {
  path: string[];
  transitions: number;
  units: Record<string, number>;
  /** USD per million orders, per line. */
  perMillion: Record<string, number>;
  totalPerMillion: number;
}

export interface CostFigure {
  region: string;
  pricesAsOf: string;
  emailSubscribers: number;
  success: PathCost;
  failure: PathCost;
  /** Each e-mail subscriber adds this per million completed orders. */
  perEmailSubscriberPerMillion: number;
}

/** States entered on the success path (Next until End) and on the first business-failure path. */
export function workflowPaths(definition: { StartAt: string; States: Record<string, State> }): {
  success: string[];
  failure: string[];
} {
  const follow = (from: string): string[] => {
    const out: string[] = [];
    for (let name: string | undefined = from; name;) {
      if (out.includes(name)) throw new Error(`loop at ${name}`);
      out.push(name);
      const s: State = definition.States[name];
      name = s.End || s.Type === "Succeed" || s.Type === "Fail" ? undefined : s.Next;
    }
    return out;
  };
  const success = follow(definition.StartAt);
  for (const [i, name] of success.entries()) {
    const target = definition.States[name].Catch?.map((c) => c.Next).find(
      (n) => definition.States[n].Type !== "Fail",
    );
    if (target) return { success, failure: [...success.slice(0, i + 1), ...follow(target)] };
  }
  return { success, failure: success };
}

function pathCost(
  states: string[],
  counts: PathCounts,
  pipeline: Pick<PipelineFigure, "memoryMb">,
  prices: Prices,
  arm64: Record<string, boolean>,
  snsPublishes: number,
): PathCost {
  let gbSeconds = 0;
  let lambdaComputeUsd = 0;
  let invocations = 0;
  for (const [handler, n] of Object.entries(counts.invocations)) {
    // Each handler's duration on this path, with the order alone in the system (on AWS every
    // invocation has its own CPU; under load here all of them share one process).
    const ms = Math.ceil(counts.durationsMs[handler] ?? 0);
    const gbs = n * (pipeline.memoryMb[handler] / 1024) * (ms / 1000);
    gbSeconds += gbs;
    lambdaComputeUsd +=
      gbs * (arm64[handler] === false ? prices.lambdaX86PerGbSecond : prices.lambdaArm64PerGbSecond);
    invocations += n;
  }
  const sqsCounted = Object.entries(counts.requests)
    .filter(([t]) => t.startsWith("AmazonSQS."))
    .reduce((a, [, n]) => a + n, 0);
  const sqsRequests = sqsCounted + 1; // + the ReceiveMessage that delivered it
  const logBytes = counts.logBytes + invocations * PLATFORM_LOG_BYTES_PER_INVOCATION;
  const units = {
    stateTransitions: states.length,
    lambdaRequests: invocations,
    lambdaGbSeconds: round(gbSeconds, 4),
    apiGatewayRequests: 1,
    sqsRequests,
    snsPublishes,
    dynamodbWriteUnits: counts.dynamoWrites,
    dynamodbReadUnits: counts.dynamoReads,
    logBytes,
  };
  const M = 1e6;
  const perMillion = {
    stepFunctions: units.stateTransitions * prices.stepFunctionsStandardPerTransition * M,
    lambdaRequests: units.lambdaRequests * prices.lambdaPerMillionRequests,
    lambdaCompute: lambdaComputeUsd * M,
    apiGateway: units.apiGatewayRequests * prices.apiGatewayRestPerMillionRequests,
    sqs: units.sqsRequests * prices.sqsStandardPerMillionRequests,
    sns: units.snsPublishes * prices.snsPublishPerMillion,
    dynamodbWrites: units.dynamodbWriteUnits * prices.dynamodbOnDemandPerMillionWriteUnits,
    dynamodbReads: units.dynamodbReadUnits * prices.dynamodbOnDemandPerMillionReadUnits,
    cloudwatchLogs: ((units.logBytes * M) / 1024 ** 3) * prices.cloudwatchLogsIngestionPerGb,
  };
  const rounded = Object.fromEntries(Object.entries(perMillion).map(([k, v]) => [k, round(v, 2)]));
  return {
    path: states,
    transitions: states.length,
    units,
    perMillion: rounded,
    totalPerMillion: round(
      Object.values(perMillion).reduce((a, b) => a + b, 0),
      2,
    ),
  };
}

export function benchCost(
  all: RegisteredResource[],
  pipeline: Pick<PipelineFigure, "success" | "failure" | "memoryMb">,
  config: { emailSubscribers: number },
): CostFigure {
  const machine = all.find((r) => r.type === "aws:sfn/stateMachine:StateMachine");
  if (!machine) throw new Error("no state machine registered");
  const definition = JSON.parse(String(machine.inputs.definition)) as {
    StartAt: string;
    States: Record<string, State>;
  };
  const region = String((machine.state.arn as string | undefined)?.split(":")[3] ?? "us-east-1");
  const prices = JSON.parse(
    fs.readFileSync(path.join(__dirname, "prices", `${region}.json`), "utf8"),
  ) as Prices;
  const arm64: Record<string, boolean> = {};
  for (const fn of all.filter((r) => r.type === "aws:lambda/function:Function")) {
    const handler = (fn.inputs.tags as Record<string, string>)[HANDLER_TAG];
    arm64[handler] = ((fn.inputs.architectures as string[] | undefined) ?? ["x86_64"]).includes("arm64");
  }
  const paths = workflowPaths(definition);
  return {
    region,
    pricesAsOf: prices.asOf,
    emailSubscribers: config.emailSubscribers,
    success: pathCost(paths.success, pipeline.success, pipeline, prices, arm64, 1),
    failure: pathCost(paths.failure, pipeline.failure, pipeline, prices, arm64, 0),
    perEmailSubscriberPerMillion: round(prices.snsEmailPer100k * 10, 2),
  };
}
