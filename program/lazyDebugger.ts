/**
 * Pulumi's closure serializer reads each function's closure through a V8 inspector session, and
 * creates that session with the Debugger domain enabled. The Debugger is there for one thing: its
 * `scriptParsed` events map script ids to file names, which appear only in the text of a
 * serialization error. Enabling it took 386 ms in a profiled run here (V8 reports every script
 * loaded so far), and everything after runs with a debugger attached. Stock Pulumi attaches its listener only after
 * the domain is enabled, so scripts loaded before the first serialization (in a program that
 * imports at the top: all of them) have no file name anyway.
 *
 * This cut:
 * - gives the serializer a session with only the Runtime domain, which is all the closure lookups
 *   use;
 * - looks each function's location up once (a function's source position never changes);
 * - when a serialization fails, enables the Debugger with the listener attached first (so every
 *   script is named), and serializes that function again: the error then names the file and line
 *   of every function in the chain, where stock Pulumi names none of the early-loaded ones;
 * - under `pulumi preview` / `up`, where Pulumi's language host opened its session with the
 *   Debugger before the program started, turns that session's Debugger off for the same saving.
 */
import { Session } from "node:inspector";
import * as pulumi from "@pulumi/pulumi";

interface FunctionLocation {
  file: string;
  line: number;
  column: number;
}

interface V8Module {
  getFunctionLocationAsync(func: Function): Promise<FunctionLocation>;
}

interface V8HooksModule {
  getSessionAsync(): Promise<Session>;
  getScriptUrl(id: string): string | undefined;
}

type SerializeFunction = (func: Function, args?: pulumi.runtime.SerializeFunctionArgs) => Promise<unknown>;

export interface LazyDebugger {
  /** True once a failed serialization turned the Debugger on. */
  namesFiles(): boolean;
  /** Settles once the language host's session has its Debugger off (at once if there is none). */
  hostDebuggerOff: Promise<void>;
}

/**
 * Installs the cut. `hostSession`: the language host opened a session before the program ran
 * (`pulumi preview` / `up` set PULUMI_NODEJS_MONITOR); its Debugger is turned off.
 * Returns undefined if Pulumi no longer exposes the functions this replaces (nothing is changed).
 */
export function installLazyDebugger(hostSession: boolean): LazyDebugger | undefined {
  installed ??= install(hostSession);
  return installed;
}

let installed: LazyDebugger | undefined;

/** The installed cut, if any (the spec reads its state). */
export function lazyDebuggerState(): { installed: boolean; namesFiles: boolean } {
  return { installed: installed !== undefined, namesFiles: installed?.namesFiles() ?? false };
}

/** Settles once the installed cut has turned the language host's Debugger off. */
export function hostDebuggerOff(): Promise<void> {
  return installed?.hostDebuggerOff ?? Promise.resolve();
}

function install(hostSession: boolean): LazyDebugger | undefined {
  /* eslint-disable @typescript-eslint/no-require-imports */
  const hooks = require("@pulumi/pulumi/runtime/closure/v8Hooks") as V8HooksModule;
  const v8 = require("@pulumi/pulumi/runtime/closure/v8") as V8Module;
  /* eslint-enable @typescript-eslint/no-require-imports */
  const runtime = pulumi.runtime as unknown as { serializeFunction: SerializeFunction };
  const originals = {
    getSessionAsync: hooks.getSessionAsync,
    getScriptUrl: hooks.getScriptUrl,
    getFunctionLocationAsync: v8.getFunctionLocationAsync,
    serializeFunction: runtime.serializeFunction,
  };
  if (Object.values(originals).some((f) => typeof f !== "function")) return undefined;

  // Already open when the host sets PULUMI_NODEJS_MONITOR (it awaits the session before loading
  // the program), so this creates nothing; its Debugger is turned off.
  const hostDebuggerOff: Promise<void> = hostSession
    ? originals.getSessionAsync().then(
        (s) => new Promise<void>((resolve) => s.post("Debugger.disable", () => resolve())),
        () => undefined,
      )
    : Promise.resolve();

  let session: Session | undefined;
  const scriptUrls = new Map<string, string>();
  let namingFiles: Promise<void> | undefined;
  let filesNamed = false;
  let locations = new WeakMap<Function, Promise<FunctionLocation>>();

  async function ourSession(): Promise<Session> {
    if (!session) {
      session = new Session();
      session.connect();
    }
    return session;
  }

  function nameFiles(): Promise<void> {
    namingFiles ??= ourSession()
      .then(
        (s) =>
          new Promise<void>((resolve, reject) => {
            // Listening first: enabling replays every script already loaded.
            s.on("Debugger.scriptParsed", ({ params }) => scriptUrls.set(params.scriptId, params.url));
            s.post("Debugger.enable", (err) => (err ? reject(err) : resolve()));
          }),
      )
      .then(() => {
        locations = new WeakMap(); // looked up again, now with file names
        filesNamed = true;
      });
    return namingFiles;
  }

  hooks.getSessionAsync = ourSession;
  hooks.getScriptUrl = (id) => scriptUrls.get(id) ?? originals.getScriptUrl(id);
  v8.getFunctionLocationAsync = (func) => {
    let found = locations.get(func);
    if (!found) {
      found = originals.getFunctionLocationAsync(func);
      locations.set(func, found);
      found.catch(() => locations.delete(func)); // a failed lookup is retried, not remembered
    }
    return found.then((location) => ({ ...location }));
  };
  runtime.serializeFunction = async function serializeFunctionNamingFilesOnError(func, args) {
    const named = filesNamed;
    try {
      return await originals.serializeFunction(func, args);
    } catch (firstError) {
      // Only the serializer's own errors carry function locations; others are reported as they are.
      if (named || !isSerializationError(firstError)) throw firstError;
      // The failure stands whatever the second run does (state may have changed since): the second
      // run only lends its text, which names the files.
      const renamed = await nameFiles().then(
        () =>
          originals.serializeFunction(func, args).then(
            () => firstError,
            (second: unknown) => (isSerializationError(second) ? second : firstError),
          ),
        () => firstError,
      );
      throw renamed;
    }
  };

  return { namesFiles: () => filesNamed, hostDebuggerOff };
}

/** The serializer's own errors (they name the functions in the chain) begin so. */
function isSerializationError(error: unknown): boolean {
  return error instanceof Error && error.message.startsWith("Error serializing");
}
