/**
 * The two preview cuts inside Pulumi's closure serializer (program/closureParseCache.ts,
 * program/lazyDebugger.ts). previewCuts.spec.ts proves the program's code is unchanged with all
 * cuts; this one pins each cut's own promises: Pulumi's own parse from every cache layer, no stale
 * or damaged entry served, the same debug log, and serialization errors that still name files.
 */
import { expect } from "chai";
import { execFile } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import * as sinon from "sinon";
import {
  cachedParser,
  decodeParse,
  stockParseFunction,
  type LogModule,
  type ParseResult,
} from "../../program/closureParseCache";
import { lazyDebuggerState } from "../../program/lazyDebugger";
import { captureProgram } from "../support/program";

const ROOT = path.join(__dirname, "..", "..");

/** Texts as V8 prints them, in the forms the serializer meets (and two it rejects). */
const FUNCTION_TEXTS = [
  "function add(a, b) { return a + b + offset; }",
  "async (event) => { const r = await store.get(event.id); return schema.parse(r.value).items; }",
  "(x) => x.map((y) => config.limits[y].max)",
  "class Store { constructor(c) { this.c = c; } get(k) { return this.c.send(new Get(k)); } }",
  "function* ids() { let i = 0; while (true) yield prefix + i++; }",
  "async function handler(e) { try { return ok(await run(e)); } catch (err) { return fail(err, this); } }",
  "() => this.value", // an arrow capturing `this`: Pulumi's error text, with what it found
  "function max() { [native code] }", // native: an error and nothing found
];

/**
 * A parse result as the serializer reads it: a key whose value is undefined reads the same as an
 * absent one (JSON keeps neither), so both sides drop those before a deep comparison.
 */
function asRead(value: unknown): unknown {
  if (value instanceof Map) return new Map([...value].map(([k, v]) => [k, asRead(v)]));
  if (Array.isArray(value)) return value.map(asRead);
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(
      Object.entries(value)
        .filter(([, v]) => v !== undefined)
        .map(([k, v]) => [k, asRead(v)]),
    );
  }
  return value;
}

function freshDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), "orderflow-closure-spec-"));
}

function quietLog(): LogModule & { debug: sinon.SinonStub } {
  return { debug: sinon.stub().resolves() };
}

describe("serializer cuts: the parse cache and the lazy debugger", function () {
  this.timeout(120_000);
  const dirs: string[] = [];
  const dir = () => {
    const d = freshDir();
    dirs.push(d);
    return d;
  };

  before(async () => {
    await captureProgram(); // installs the cuts, as `pulumi preview` does (program/entry.ts)
  });
  after(() => dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

  describe("parse cache", () => {
    it("gives Pulumi's own parse of each text: parsed, from memory, and from disk", () => {
      const stock = stockParseFunction();
      const cache = dir();
      const cold = cachedParser(stock, quietLog(), cache);
      for (const text of FUNCTION_TEXTS) {
        const expected = asRead(stock(text));
        expect(asRead(cold(text)), `parsed: ${text}`).to.deep.equal(expected);
        expect(asRead(cold(text)), `memory: ${text}`).to.deep.equal(expected);
        const warm = cachedParser(stock, quietLog(), cache); // a later preview: disk only
        expect(asRead(warm(text)), `disk: ${text}`).to.deep.equal(expected);
      }
      expect(fs.readdirSync(cache)).to.have.length(FUNCTION_TEXTS.length);
    });

    it("returns Maps and fresh objects on every hit (the serializer gets what Pulumi's parse returns)", () => {
      const parse = cachedParser(stockParseFunction(), quietLog(), dir());
      const text = FUNCTION_TEXTS[1];
      const [error, first] = parse(text) as [
        string,
        { capturedVariables: { required: Map<string, unknown> } },
      ];
      const [, second] = parse(text) as [string, { capturedVariables: { required: Map<string, unknown> } }];
      expect(error).to.equal("");
      expect(first.capturedVariables.required).to.be.instanceOf(Map);
      expect([...second.capturedVariables.required.keys()]).to.include.members(["store", "schema"]);
      expect(second).not.to.equal(first);
      first.capturedVariables.required.clear(); // a caller's change does not reach the next hit
      expect(parse(text)).to.satisfy(
        ([, r]: [string, typeof first]) => r.capturedVariables.required.size > 0,
      );
    });

    it("never serves a stale or damaged entry: a changed text is a new key, a bad file is parsed again", () => {
      const stock = stockParseFunction();
      const cache = dir();
      const before = "(a) => a + one";
      const after = "(a) => a + two"; // same length: only the content tells them apart
      expect(asRead(cachedParser(stock, quietLog(), cache)(before))).to.deep.equal(asRead(stock(before)));
      const changed = cachedParser(stock, quietLog(), cache)(after);
      expect(asRead(changed)).to.deep.equal(asRead(stock(after)));
      expect(fs.readdirSync(cache)).to.have.length(2);
      for (const f of fs.readdirSync(cache)) fs.writeFileSync(path.join(cache, f), '["", {"truncated":');
      expect(decodeParse('["", {"truncated":')).to.equal(undefined);
      expect(decodeParse('["", {}]')).to.equal(undefined); // valid JSON, not a parse
      expect(decodeParse('["native", null]')).to.deep.equal(["native", undefined]);
      expect(asRead(cachedParser(stock, quietLog(), cache)(after))).to.deep.equal(asRead(stock(after)));
      expect(decodeParse(fs.readFileSync(path.join(cache, fs.readdirSync(cache)[0]), "utf8"))).not.to.equal(
        undefined,
      );
    });

    it("keys on the global object too: a name that becomes global is no longer captured", () => {
      // Pulumi leaves out a free variable the global object has (Node 24's WebSocket, tslib's
      // __extends): the same text parses differently once the global exists.
      const stock = stockParseFunction();
      const parse = cachedParser(stock, quietLog(), dir());
      const text = "() => orderflowProbeGlobal.value + local";
      const captured = (r: ParseResult) => [
        ...(
          r[1] as { capturedVariables: { required: Map<string, unknown> } }
        ).capturedVariables.required.keys(),
      ];
      expect(captured(parse(text))).to.include("orderflowProbeGlobal");
      const g = globalThis as Record<string, unknown>;
      g.orderflowProbeGlobal = { value: 1 };
      try {
        expect(captured(stock(text))).not.to.include("orderflowProbeGlobal");
        expect(asRead(parse(text))).to.deep.equal(asRead(stock(text)));
        expect(asRead(cachedParser(stock, quietLog(), dir())(text))).to.deep.equal(asRead(stock(text)));
      } finally {
        delete g.orderflowProbeGlobal;
      }
      expect(captured(parse(text))).to.include("orderflowProbeGlobal");
    });

    it("logs on a hit what Pulumi's parse logs", () => {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const pulumiLog = require("@pulumi/pulumi/log") as LogModule;
      const spy = sinon.stub(pulumiLog, "debug").resolves();
      let stockMessages: unknown[][];
      try {
        stockParseFunction()(FUNCTION_TEXTS[0]);
        stockMessages = spy.args.map((a) => a.slice(0, 1));
      } finally {
        spy.restore();
      }
      const log = quietLog();
      const parse = cachedParser(stockParseFunction(), log, dir());
      parse(FUNCTION_TEXTS[0]); // a miss: Pulumi's parse logs by itself, not through `log`
      expect(log.debug.callCount).to.equal(0);
      parse(FUNCTION_TEXTS[0]);
      expect(stockMessages).to.have.length(1);
      expect(log.debug.args.map((a) => a.slice(0, 1))).to.deep.equal(stockMessages);
      parse(FUNCTION_TEXTS[7]); // Pulumi logs nothing when it finds nothing
      parse(FUNCTION_TEXTS[7]);
      expect(log.debug.callCount).to.equal(1);
    });
  });

  describe("lazy debugger", () => {
    it("serialized the program without the Debugger domain", () => {
      expect(lazyDebuggerState()).to.deep.equal({ installed: true, namesFiles: false });
    });

    it("never turns a failure into a success: the second run only lends its text", async () => {
      // A value that can't be serialized on the first look only: the predicate replaces it.
      function makesArrow(this: unknown) {
        return () => this;
      }
      const bad = makesArrow.call({});
      let current: () => unknown = bad;
      const entry = () => current();
      const error = await pulumi.runtime
        .serializeFunction(entry, {
          serialize: (o) => {
            if (o === bad) current = () => 1;
            return true;
          },
        })
        .then(
          () => undefined,
          (e: Error) => e,
        );
      expect(error?.message).to.include("arrow function captured 'this'");
      expect(lazyDebuggerState().namesFiles).to.equal(true); // the second run happened, and passed
      expect(await pulumi.runtime.serializeFunction(entry).then((r) => typeof r.text)).to.equal("string");
    });

    it("names every function's file and line when a serialization fails (stock Pulumi names none loaded before it)", async () => {
      function makesArrow(this: unknown) {
        return () => this;
      }
      const capturesThis = makesArrow.call({});
      const entry = () => capturesThis();
      const error = await pulumi.runtime.serializeFunction(entry).then(
        () => undefined,
        (e: Error) => e,
      );
      expect(error?.message).to.include("arrow function captured 'this'");
      const named = error?.message.match(/serializerCuts\.spec\.ts\(\d+,\d+\)/g) ?? [];
      expect(named, error?.message).to.have.length.of.at.least(3); // the entry, twice, and the arrow
    });

    it("turns off the Debugger of the session Pulumi's language host opened before the program", async () => {
      // As @pulumi/pulumi/cmd/run does: open the session (Debugger on), then load the program.
      const script = `
        const hooks = require("@pulumi/pulumi/runtime/closure/v8Hooks");
        // A script id that doesn't exist: "not enabled" when the Debugger is off, "no script" when on.
        const probe = (s) => new Promise((resolve) => s.post("Debugger.getScriptSource", { scriptId: "0" }, (err) => resolve(/not enabled/.test(String(err && err.message)) ? "off" : "on")));
        hooks.isInitializedAsync().then(async () => {
          const host = await hooks.getSessionAsync();
          const before = await probe(host);
          const { installPreviewCuts } = require("./program/previewCuts");
          const cuts = installPreviewCuts({ ...process.env, PULUMI_NODEJS_MONITOR: "127.0.0.1:1" });
          await require("./program/lazyDebugger").hostDebuggerOff();
          process.stdout.write(JSON.stringify({ before, after: await probe(host), lazyDebugger: cuts.lazyDebugger }));
        });`;
      const out = await new Promise<string>((resolve, reject) =>
        execFile(
          process.execPath,
          ["-r", "ts-node/register/transpile-only", "-e", script],
          { cwd: ROOT, env: { ...process.env, ORDERFLOW_PREVIEW_CUTS: "" }, timeout: 60_000 },
          (err, stdout, stderr) => (err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(stdout)),
        ),
      );
      expect(JSON.parse(out)).to.deep.equal({ before: "on", after: "off", lazyDebugger: true });
    });
  });
});
