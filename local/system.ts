/**
 * The whole order system on one machine: `startOfflineSystem()` is what `npm start` runs and what
 * the e2e specs start in-process on free ports.
 *
 * Topology: the resources the Pulumi program registers when it runs under mocks
 * (program/capture.ts -> ./topology.ts), so tables, queues, settings, the state-machine
 * definition, routes, the body model and gateway responses are the deployed ones. Only timings
 * may be shortened (`timings`), and the catalogue replaced (`catalogue`), on purpose.
 *
 * Handlers run unchanged: `<name>FromEnv(env)` with the function's registered environment, and
 * real AWS SDK v3 clients reaching the emulators through `AWS_ENDPOINT_URL_<SERVICE>`.
 */
import "./polyfills";
import { randomBytes } from "node:crypto";
import { PutItemCommand, type AttributeValue } from "@aws-sdk/client-dynamodb";
import { startApi } from "./api";
import { startDynamo, type LocalDynamo } from "./dynamo";
import { LocalFunctions, moduleLoader, startLambdaServer, type HandlerLoader } from "./lambda";
import { createLogger, type Level, type Logger } from "./log";
import { QueuePoller } from "./poller";
import { startSns, type LocalSns, type Notification } from "./sns";
import { startSqs, type LocalSqs } from "./sqs";
import { LocalStepFunctions, startSfnServer } from "./stepfunctions";
import {
  buildTopology,
  functionNameOf,
  queueNameOf,
  withTimings,
  type LocalTopology,
  type TimingOverrides,
} from "./topology";
import { ENV } from "../functions/shared/settings";
import type { CatalogueItem } from "../functions/shared/types";
import { claimDataDir } from "./dataDir";
import { countInFlight, reconcileAtStart, type StartupRecovery } from "./recovery";

export interface OfflineOptions {
  /** API port (0: a free one). @default 0 */
  port?: number;
  /** LevelDB directory for DynamoDB data; in memory when absent. */
  dataDir?: string;
  /** Use this topology instead of capturing the program (unit tests of the runtime itself). */
  topology?: LocalTopology;
  /** Stack file the program reads under mocks. @default "dev" */
  stack?: string;
  /** See captureTopology: for a process that only runs the offline system. @default false */
  skipCodePackaging?: boolean;
  timings?: TimingOverrides;
  /** Replace the stack's seed catalogue (tests). Items are written with the program's own item builder. */
  catalogue?: CatalogueItem[];
  /** The API key to accept; random when absent. */
  apiKey?: string;
  /** Usage-plan throttling; off for load tests. @default true */
  throttle?: boolean;
  /** JSON Lines file for notifications. */
  notificationsFile?: string;
  onNotification?: (n: Notification) => void;
  /** Runtime log level (handlers log for themselves). @default "info" */
  logLevel?: Level | "silent";
  /** Concurrent batches per event source mapping (capped by its maximumConcurrency). @default 4 */
  pollerConcurrency?: number;
  /** Replace the handler modules (runtime tests). */
  loader?: HandlerLoader;
}

export interface OfflineSystem {
  url: string;
  apiKey: string;
  topology: LocalTopology;
  tables: { orders: string; inventory: string; payments: string };
  dynamo: LocalDynamo;
  sqs: LocalSqs;
  sns: LocalSns;
  sfn: LocalStepFunctions;
  functions: LocalFunctions;
  pollers: QueuePoller[];
  /** Queue names: the work queue (with a redrive policy) and its DLQ. */
  queues: { work: string; deadLetter: string };
  /** Milliseconds from the call to ready, and how much of it was capturing the program. */
  timing: { totalMs: number; captureMs: number };
  /** What the start-up reconciliation found and did (./recovery.ts). */
  recovery: StartupRecovery;
  /** Orders not yet COMPLETED or FAILED, by status (for the shutdown message). */
  inFlight(): Promise<Record<string, number>>;
  log: Logger;
  stop(): Promise<void>;
}

const CREDENTIALS = { accessKeyId: "offline", secretAccessKey: "offline" };

/**
 * Runs the program under mocks and reads its resources. `skipCodePackaging` captures with
 * `packageCode: false` (program/capture.ts): the offline runtime loads handlers from source and
 * never reads a function's `code`, and packaging the CallbackFunctions is most of the capture
 * time (measured: 10.5 s -> 4.4 s here). Only for a process that does nothing else with the
 * program (`npm start`); specs capture the real thing.
 */
export async function captureTopology(
  stack = "dev",
  opts: { skipCodePackaging?: boolean } = {},
): Promise<LocalTopology> {
  // Required lazily: loading the program costs most of the start-up time.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { captureProgram } = require("../program/capture") as typeof import("../program/capture");
  return buildTopology(await captureProgram({ stack, packageCode: !opts.skipCodePackaging }));
}

/** The program's own DynamoDB item builder for a catalogue entry (components/orderData.ts). */
function catalogueItemBuilder(): (c: CatalogueItem) => Record<string, AttributeValue> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { catalogueItem } = require("../components/orderData") as typeof import("../components/orderData");
  return (c) => catalogueItem(c) as Record<string, AttributeValue>;
}

export async function startOfflineSystem(options: OfflineOptions = {}): Promise<OfflineSystem> {
  const t0 = Date.now();
  const log = createLogger(options.logLevel ?? "info");
  // Claimed first: a second instance on the same directory fails at once, naming it.
  const releaseDataDir = options.dataDir ? claimDataDir(options.dataDir) : () => undefined;
  let topology: LocalTopology;
  try {
    topology =
      options.topology ??
      (await captureTopology(options.stack, { skipCodePackaging: options.skipCodePackaging }));
  } catch (err) {
    releaseDataDir();
    throw err;
  }
  const captureMs = Date.now() - t0;
  if (options.timings) topology = withTimings(topology, options.timings);

  const cleanups: (() => Promise<void> | void)[] = [releaseDataDir];
  const stopAll = async () => {
    for (const fn of cleanups.reverse()) {
      try {
        await fn();
      } catch (err) {
        log.warn("stop step failed", { error: (err as Error).message });
      }
    }
    cleanups.length = 0;
  };

  try {
    const { region, accountId } = topology;
    const dynamo = await startDynamo({
      tables: topology.tables,
      dataDir: options.dataDir,
      credentials: CREDENTIALS,
      region,
    });
    cleanups.push(() => dynamo.stop());
    const sqs = await startSqs({ queues: topology.queues, region, accountId, credentials: CREDENTIALS });
    cleanups.push(() => sqs.stop());
    const sns = await startSns({
      topics: topology.topics,
      file: options.notificationsFile,
      print: options.onNotification,
    });
    cleanups.push(() => sns.stop());

    const localQueueUrl = (deployedUrl: string) => sqs.urlOf(queueNameOf(deployedUrl));

    // The SDK reads these when a client is created: set them before any handler factory runs.
    const saved = setEnv({
      AWS_REGION: region,
      AWS_DEFAULT_REGION: region,
      AWS_ACCESS_KEY_ID: CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: CREDENTIALS.secretAccessKey,
      AWS_SESSION_TOKEN: undefined,
      AWS_PROFILE: undefined,
      AWS_IGNORE_CONFIGURED_ENDPOINT_URLS: undefined,
      AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint,
      AWS_ENDPOINT_URL_SQS: sqs.endpoint,
      AWS_ENDPOINT_URL_SNS: sns.endpoint,
      AWS_ENDPOINT_URL_SFN: undefined,
      AWS_ENDPOINT_URL_LAMBDA: undefined,
      AWS_MAX_ATTEMPTS: "3",
    });
    cleanups.push(() => void setEnv(saved));

    // The SFN and Lambda endpoints must be known before handler factories build their clients,
    // and the services behind them need the handlers: bind first, attach the services after.
    let sfnRef: LocalStepFunctions | undefined;
    let functionsRef: LocalFunctions | undefined;
    const sfnServer = await startSfnServer(() => sfnRef);
    cleanups.push(() => sfnServer.stop());
    const lambdaServer = await startLambdaServer(() => functionsRef, functionNameOf, log);
    cleanups.push(() => lambdaServer.stop());
    setEnv({ AWS_ENDPOINT_URL_SFN: sfnServer.endpoint, AWS_ENDPOINT_URL_LAMBDA: lambdaServer.endpoint });

    // Each factory gets its function's registered environment and nothing else (queue URLs made
    // local); the SDK clients read region, credentials and endpoints from process.env themselves.
    const functions = new LocalFunctions(
      topology.functions,
      (fn) =>
        Object.fromEntries(
          Object.entries(fn.environment).map(([k, v]) => {
            const queue = topology.queues.find((q) => q.deployedUrl === v);
            return [k, queue ? sqs.urlOf(queue.name) : v];
          }),
        ),
      options.loader ?? moduleLoader(),
      log,
    );
    functionsRef = functions;

    const sfn = new LocalStepFunctions({
      machines: topology.stateMachines,
      functions,
      sqs: sqs.client,
      localQueueUrl,
      partition: topology.partition,
      region,
      accountId,
      log,
    });
    sfnRef = sfn;
    cleanups.push(() => sfn.stop());

    const tables = tableNames(topology);
    await seed(dynamo, topology, tables.inventory, options.catalogue);

    const pollers = topology.eventSourceMappings.map((m) => {
      const queue = topology.queues.find((q) => q.name === m.queueName)!;
      return new QueuePoller({
        sqs: sqs.client,
        functions,
        queueUrl: sqs.urlOf(queue.name),
        queueArn: queue.arn,
        functionName: m.functionName,
        batchSize: m.batchSize,
        reportBatchItemFailures: m.reportBatchItemFailures,
        concurrency: Math.max(1, Math.min(m.maximumConcurrency ?? 5, options.pollerConcurrency ?? 4)),
        region,
        log,
      });
    });
    for (const p of pollers) p.start();
    cleanups.push(() => Promise.all(pollers.map((p) => p.stop())).then(() => undefined));

    // EventBridge schedules (the sweeper): a scheduled event every `rate(...)`, like the rule.
    const timers = topology.schedules.map((sch) =>
      setInterval(() => {
        const event = {
          version: "0",
          id: randomBytes(16).toString("hex"),
          "detail-type": "Scheduled Event",
          source: "aws.events",
          account: accountId,
          time: new Date().toISOString(),
          region,
          resources: [`arn:${topology.partition}:events:${region}:${accountId}:rule/${sch.rule}`],
          detail: {},
        };
        functions
          .invoke(sch.functionName, event)
          .catch((err: Error) => log.warn("scheduled run failed", { rule: sch.rule, error: err.name }));
      }, sch.everySeconds * 1000).unref(),
    );
    cleanups.push(() => timers.forEach((t) => clearInterval(t)));

    // Before the API opens: settle what an earlier run (killed, or stopped with orders in
    // flight) left behind in a --data-dir, with the same sweeper the schedule runs (./recovery.ts).
    const recovery = await reconcileAtStart({
      topology,
      functions,
      repaired: dynamo.repaired,
      keptTables: options.dataDir !== undefined,
      log,
    });

    const apiKey = options.apiKey ?? `local-${randomBytes(18).toString("base64url")}`;
    const throttle = options.throttle === false ? false : (topology.api.throttle ?? false);
    const api = await startApi({
      api: topology.api,
      functions,
      apiKeys: [apiKey],
      throttle,
      stageThrottle: topology.api.stageThrottle,
      stage: "v1",
      accountId,
      log,
      port: options.port,
    });
    // The API stops first: no new orders while the rest shuts down.
    cleanups.push(() => api.stop());

    const work = topology.queues.find((q) => q.redrive);
    const system: OfflineSystem = {
      url: api.url,
      apiKey,
      topology,
      tables,
      dynamo,
      sqs,
      sns,
      sfn,
      functions,
      pollers,
      queues: { work: work?.name ?? "", deadLetter: work?.redrive?.deadLetterQueueName ?? "" },
      timing: { totalMs: Date.now() - t0, captureMs },
      recovery,
      inFlight: () => countInFlight(dynamo.client, tables.orders),
      log,
      stop: stopAll,
    };
    return system;
  } catch (err) {
    await stopAll();
    throw err;
  }
}

function setEnv(values: Record<string, string | undefined>): Record<string, string | undefined> {
  const previous: Record<string, string | undefined> = {};
  for (const [k, v] of Object.entries(values)) {
    previous[k] = process.env[k];
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  return previous;
}

/** Table names as the functions see them (their registered environment). */
export function tableNames(topology: LocalTopology): OfflineSystem["tables"] {
  const find = (name: string) => {
    for (const fn of topology.functions) if (fn.environment[name]) return fn.environment[name];
    throw new Error(`No function has ${name} in its environment`);
  };
  return {
    orders: find(ENV.ordersTable),
    inventory: find(ENV.inventoryTable),
    payments: find(ENV.paymentsTable),
  };
}

/**
 * Seed data is written once, like the program's TableItems at creation: an item that exists
 * (a `--data-dir` store from an earlier run) keeps its stock.
 */
async function seed(
  dynamo: LocalDynamo,
  topology: LocalTopology,
  inventoryTable: string,
  catalogue?: CatalogueItem[],
) {
  const items: { tableName: string; item: Record<string, AttributeValue> }[] = catalogue
    ? (() => {
        const build = catalogueItemBuilder();
        return catalogue.map((c) => ({ tableName: inventoryTable, item: build(c) }));
      })()
    : topology.seedItems.map((s) => ({
        tableName: s.tableName,
        item: s.item as Record<string, AttributeValue>,
      }));
  for (const { tableName, item } of items) {
    const key = topology.tables.find((t) => t.name === tableName)!.hashKey;
    try {
      await dynamo.client.send(
        new PutItemCommand({
          TableName: tableName,
          Item: item,
          ConditionExpression: "attribute_not_exists(#k)",
          ExpressionAttributeNames: { "#k": key },
        }),
      );
    } catch (err) {
      if ((err as Error).name !== "ConditionalCheckFailedException") throw err;
    }
  }
}
