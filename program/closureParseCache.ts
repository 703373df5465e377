/**
 * A content-keyed cache for the TypeScript parse inside Pulumi's closure serializer.
 *
 * For every function it serializes, Pulumi's `parseFunction(text)` parses the function's source text
 * with TypeScript to find its free variables. The same helpers are reached from all 8 handlers, so
 * the same texts are parsed again and again: 293 parses of 97 distinct texts per program run here,
 * about 0.3 s. The result depends on the text, Pulumi's and TypeScript's versions, and the names on
 * the global object at that moment (Pulumi drops a free variable the global object has: Node 24 has
 * `WebSocket` and `navigator`, Node 20 doesn't; tslib adds `__extends` while a program loads). It is
 * kept under a hash of exactly those, recomputed on every call: in memory, and on disk in
 * node_modules/.cache/orderflow-closure (like the transpile cache, ./tsCache.js). A changed function
 * or a changed global object is a new key: a stale parse can't be served. Each hit returns fresh
 * objects, and logs what Pulumi's own parse logs.
 */
import * as crypto from "node:crypto";
import * as path from "node:path";

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { readEntry, writeEntry } = require("./cacheEntries.js") as {
  readEntry(file: string): string | undefined;
  writeEntry(file: string, text: string): void;
};

/** Pulumi's result: an error message ("" if none) and what it found (absent on some errors). */
export type ParseResult = [string, unknown];
type ParseFunction = (functionText: string) => ParseResult;

interface ParseFunctionModule {
  parseFunction: ParseFunction;
}

export interface LogModule {
  debug(message: string): Promise<void>;
}

const FORMAT = "orderflow-closure-parse-1";
const MAP_TAG = "$orderflowMap";

export const CLOSURE_CACHE_DIR =
  process.env.ORDERFLOW_CLOSURE_CACHE_DIR ||
  path.join(__dirname, "..", "node_modules", ".cache", "orderflow-closure");

/** Maps become tagged entry lists; nothing else in a parse result needs care (strings, booleans). */
export function encodeParse(result: ParseResult): string {
  return JSON.stringify(result, (_key, value: unknown) =>
    value instanceof Map ? { [MAP_TAG]: [...value.entries()] } : value,
  );
}

export function decodeParse(text: string): ParseResult | undefined {
  let decoded: unknown;
  try {
    decoded = JSON.parse(text, (_key, value: unknown) =>
      value !== null && typeof value === "object" && MAP_TAG in value
        ? new Map((value as Record<string, [unknown, unknown][]>)[MAP_TAG])
        : value,
    );
  } catch {
    return undefined;
  }
  // Anything else (a damaged or foreign file) is treated as a miss and parsed again.
  if (!Array.isArray(decoded) || decoded.length !== 2 || typeof decoded[0] !== "string") return undefined;
  const [error, found] = decoded as [string, unknown];
  if (found === null) return [error, undefined]; // JSON's spelling of Pulumi's undefined
  const parsed = found as { funcExprWithoutName?: unknown; capturedVariables?: Record<string, unknown> };
  const complete =
    typeof parsed.funcExprWithoutName === "string" &&
    parsed.capturedVariables?.required instanceof Map &&
    parsed.capturedVariables.optional instanceof Map;
  return complete ? [error, found] : undefined;
}

let lastGlobals = "";
let lastGlobalsKey = "";

/** The global object's own names, hashed (what Pulumi's parse treats as built-in). */
function globalsKey(): string {
  const names = Object.getOwnPropertyNames(globalThis).sort().join("\0");
  if (names !== lastGlobals) {
    lastGlobals = names;
    lastGlobalsKey = crypto.createHash("sha256").update(names).digest("hex");
  }
  return lastGlobalsKey;
}

/** What the parse depends on besides the text and the globals: Pulumi, TypeScript and Node. */
function baseKey(): string {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const pulumiVersion = (require("@pulumi/pulumi/package.json") as { version: string }).version;
  // The TypeScript Pulumi's parse uses: its shim loads the project's, else its vendored copy.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const typescriptVersion = (require("@pulumi/pulumi/typescript-shim") as { version: string }).version;
  return [FORMAT, pulumiVersion, typescriptVersion, process.version].join("\0");
}

let stock: ParseFunction | undefined;

/** Pulumi's own parseFunction, whether or not the cache replaced it (the spec compares with it). */
export function stockParseFunction(): ParseFunction {
  return (
    stock ??
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    (require("@pulumi/pulumi/runtime/closure/parseFunction") as ParseFunctionModule).parseFunction
  );
}

/**
 * Replaces `parseFunction` in Pulumi's closure serializer with the cached one. Returns false if
 * Pulumi no longer exposes it (nothing is changed then).
 */
export function cacheClosureParses(cacheDir: string = CLOSURE_CACHE_DIR): boolean {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const parser = require("@pulumi/pulumi/runtime/closure/parseFunction") as ParseFunctionModule;
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const log = require("@pulumi/pulumi/log") as LogModule;
  const original = parser.parseFunction;
  if (typeof original !== "function") return false;
  stock = original;
  parser.parseFunction = cachedParser(original, log, cacheDir);
  return true;
}

/** The cached parser around `original` (exported for the spec). */
export function cachedParser(original: ParseFunction, log: LogModule, cacheDir: string): ParseFunction {
  const base = baseKey();
  const inMemory = new Map<string, string>();

  return function cachedParseFunction(functionText: string): ParseResult {
    const key = crypto
      .createHash("sha256")
      .update(base)
      .update("\0")
      .update(globalsKey())
      .update("\0")
      .update(functionText)
      .digest("hex");
    const file = path.join(cacheDir, `${key}.json`);
    const stored = inMemory.get(key) ?? readEntry(file);
    const hit = stored === undefined ? undefined : decodeParse(stored);
    if (hit) {
      inMemory.set(key, stored!);
      return logged(hit);
    }
    const parsed = original(functionText); // logs by itself
    const encoded = encodeParse(parsed);
    inMemory.set(key, encoded);
    writeEntry(file, encoded);
    return parsed;
  };

  // Pulumi's parse logs its free variables at debug level whenever it gets that far; so does a hit.
  function logged(result: ParseResult): ParseResult {
    const found = result[1] as { capturedVariables?: unknown } | undefined;
    if (found?.capturedVariables !== undefined) {
      void log.debug(`Found free variables: ${JSON.stringify(found.capturedVariables)}`);
    }
    return result;
  }
}
