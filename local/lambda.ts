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
export type HandlerLoader = (fn: LocalFunction, env: Record<string, string>) => Handler;

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

  /**
   * Cold start for everyone up front, each function with `envFor(fn)`: a setting missing from a
   * function's registered environment fails `npm start` naming the function, not its first order.
   */
  constructor(
    functions: LocalFunction[],
    envFor: (fn: LocalFunction) => Record<string, string>,
    loader: HandlerLoader,
    private readonly log: Logger,
  ) {
    for (const fn of functions) {
      let handler: Handler;
      try {
        handler = loader(fn, envFor(fn));
      } catch (err) {
        const e = err as Error;
        throw Object.assign(
          new Error(`Function ${fn.name} (functions/${fn.handler}) failed its cold start: ${e.message}`, {
            cause: e,
          }),
          { name: e.name },
        );
      }
      this.handlers.set(fn.name, { fn, handler });
    }
  }

  has(name: string): boolean {
    return this.handlers.has(name);
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
    }
  }
}

/** `POST /2015-03-31/functions/{FunctionName}/invocations` (RequestResponse, Event, DryRun). */
export async function startLambdaServer(
  getFunctions: () => LocalFunctions | undefined,
  resolveName: (nameOrArn: string) => string,
  log: Logger,
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
      // Nobody waits for the result: the error is only seen here (Lambda logs it too).
      functions.invoke(name, event).catch((err: Error) =>
        log.warn("asynchronous invocation failed", {
          function: name,
          error: err.name,
          message: err.message,
        }),
      );
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
