/**
 * Lambda: the handler modules in functions/, loaded unchanged through their `<name>FromEnv(env)`
 * factories with each function's registered environment, plus the Lambda Invoke REST front end
 * (`POST /2015-03-31/functions/{name}/invocations`) that `@aws-sdk/client-lambda` calls.
 */
import { randomUUID } from "node:crypto";
import * as http from "node:http";
import * as path from "node:path";
import { close, listen, readBody, sendJson } from "./net";
import type { LocalFunction } from "./topology";
import type { Logger } from "./log";

export type Handler = (event: unknown, context?: unknown) => Promise<unknown>;
/** Loads the handler for a function (default: functions/<handler>.ts, `<handler>FromEnv`). */
export type HandlerLoader = (fn: LocalFunction, env: Record<string, string | undefined>) => Handler;

export const moduleLoader =
  (functionsDir = path.join(__dirname, "..", "functions")): HandlerLoader =>
  (fn, env) => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const mod = require(path.join(functionsDir, fn.handler)) as Record<string, unknown>;
    const factory = mod[`${fn.handler}FromEnv`];
    if (typeof factory !== "function") {
      throw new Error(`functions/${fn.handler} does not export ${fn.handler}FromEnv(env)`);
    }
    return factory(env) as Handler;
  };

/** What a failed invocation reports (the Lambda runtime's error shape). */
export interface FunctionError {
  errorType: string;
  errorMessage: string;
}

export class InvocationError extends Error {
  constructor(readonly payload: FunctionError) {
    super(payload.errorMessage);
    this.name = payload.errorType;
  }
}

export class LocalFunctions {
  private readonly handlers = new Map<string, { fn: LocalFunction; handler: Handler }>();
  private inFlight = 0;

  constructor(
    functions: LocalFunction[],
    envFor: (fn: LocalFunction) => Record<string, string | undefined>,
    loader: HandlerLoader,
    private readonly log: Logger,
    fallbacks: Record<string, string> = {},
  ) {
    this.fallbacks = fallbacks;
    // Cold start for everyone up front: a missing setting fails `npm start`, not the first order.
    for (const fn of functions)
      this.handlers.set(fn.name, { fn, handler: this.coldStart(fn, envFor(fn), loader) });
  }

  /**
   * Settings a handler demanded that its registered environment lacks, and that the runtime
   * supplied so the rest can still be exercised. Each one is a program bug: deployed, that
   * function fails at cold start. Empty when the program is right (an e2e spec asserts it).
   */
  readonly supplied: { function: string; setting: string }[] = [];

  /** Values the runtime may supply for a missing setting (by env var name). */
  fallbacks: Record<string, string> = {};

  private coldStart(
    fn: LocalFunction,
    env: Record<string, string | undefined>,
    loader: HandlerLoader,
  ): Handler {
    for (;;) {
      try {
        return loader(fn, env);
      } catch (err) {
        const e = err as Error;
        const setting = /Missing environment variable (\w+)/.exec(e.message)?.[1];
        if (
          e.name !== "MissingSettingError" ||
          !setting ||
          env[setting] !== undefined ||
          !this.fallbacks[setting]
        )
          throw err;
        this.log.warn(
          "PROGRAM BUG: the function needs a setting its registered environment lacks; supplied locally",
          {
            function: fn.handler,
            setting,
          },
        );
        this.supplied.push({ function: fn.handler, setting });
        env = { ...env, [setting]: this.fallbacks[setting] };
      }
    }
  }

  has(name: string): boolean {
    return this.handlers.has(name);
  }

  get active(): number {
    return this.inFlight;
  }

  /** Runs a function like Lambda: a fresh context, the configured timeout, errors as `{errorType, errorMessage}`. */
  async invoke(name: string, event: unknown): Promise<unknown> {
    const entry = this.handlers.get(name);
    if (!entry)
      throw Object.assign(new Error(`Function not found: ${name}`), { name: "ResourceNotFoundException" });
    const { fn, handler } = entry;
    const requestId = randomUUID();
    const deadline = Date.now() + fn.timeoutSeconds * 1000;
    const context = {
      functionName: fn.name,
      functionVersion: "$LATEST",
      invokedFunctionArn: fn.arn,
      memoryLimitInMB: String(fn.memorySize),
      awsRequestId: requestId,
      logGroupName: `/aws/lambda/${fn.name}`,
      logStreamName: "local",
      callbackWaitsForEmptyEventLoop: false,
      getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    };
    // Events cross a JSON boundary on AWS: no shared references with the caller.
    const payload = JSON.parse(JSON.stringify(event ?? null));
    let timer: NodeJS.Timeout | undefined;
    this.inFlight++;
    try {
      const result = await Promise.race([
        Promise.resolve().then(() => handler(payload, context)),
        new Promise<never>((_, reject) => {
          timer = setTimeout(
            () =>
              reject(
                Object.assign(new Error(`Task timed out after ${fn.timeoutSeconds}.00 seconds`), {
                  name: "Sandbox.Timedout",
                }),
              ),
            fn.timeoutSeconds * 1000,
          );
        }),
      ]);
      return result === undefined ? null : JSON.parse(JSON.stringify(result));
    } catch (err) {
      const e = err as Error;
      const errorType = e && e.name ? e.name : "Error";
      this.log.debug("function error", { function: fn.handler, errorType, errorMessage: e?.message });
      throw new InvocationError({ errorType, errorMessage: String(e?.message ?? e) });
    } finally {
      clearTimeout(timer);
      this.inFlight--;
    }
  }

  /** As a Step Functions `lambda:invoke` task sees it: errors are named by their errorType. */
  invokeForWorkflow(name: string, payload: unknown): Promise<unknown> {
    return this.invoke(name, payload);
  }
}

/** `POST /2015-03-31/functions/{FunctionName}/invocations` (RequestResponse, Event, DryRun). */
export async function startLambdaServer(
  getFunctions: () => LocalFunctions | undefined,
  resolveName: (nameOrArn: string) => string,
  port = 0,
): Promise<{ endpoint: string; stop(): Promise<void> }> {
  const server = http.createServer(async (req, res) => {
    const m = /^\/2015-03-31\/functions\/([^/]+)\/invocations/.exec(req.url ?? "");
    if (req.method !== "POST" || !m) {
      return sendJson(
        res,
        404,
        { Type: "User", message: "Unknown operation" },
        { "x-amzn-ErrorType": "UnknownOperationException" },
      );
    }
    const name = resolveName(decodeURIComponent(m[1]));
    const functions = getFunctions();
    if (!functions || !functions.has(name)) {
      return sendJson(
        res,
        404,
        { Type: "User", message: `Function not found: ${m[1]}` },
        { "x-amzn-ErrorType": "ResourceNotFoundException" },
      );
    }
    let event: unknown;
    try {
      const raw = (await readBody(req, 6 * 1024 * 1024)).toString("utf8");
      event = raw ? JSON.parse(raw) : {};
    } catch {
      return sendJson(
        res,
        400,
        { Type: "User", message: "Could not parse request body into json" },
        { "x-amzn-ErrorType": "InvalidRequestContentException" },
      );
    }
    const type = String(req.headers["x-amz-invocation-type"] ?? "RequestResponse");
    if (type === "DryRun") return sendJson(res, 204, "");
    if (type === "Event") {
      functions.invoke(name, event).catch(() => undefined);
      return sendJson(res, 202, "");
    }
    try {
      const result = await functions.invoke(name, event);
      sendJson(res, 200, JSON.stringify(result), { "X-Amz-Executed-Version": "$LATEST" });
    } catch (err) {
      const payload =
        err instanceof InvocationError ? err.payload : { errorType: "Error", errorMessage: String(err) };
      sendJson(
        res,
        200,
        { ...payload, trace: [] },
        { "X-Amz-Function-Error": "Unhandled", "X-Amz-Executed-Version": "$LATEST" },
      );
    }
  });
  const bound = await listen(server, port);
  return { endpoint: `http://127.0.0.1:${bound}`, stop: () => close(server) };
}
