/**
 * Start-up and restart pieces of the offline runtime, without starting it: the one-line errors
 * (local/cli.ts), the --data-dir claim (local/dataDir.ts), the index repair after a torn
 * write (local/dynamo.ts repairIndexes), against a model of dynalite's index maintenance, and
 * the start-up sweep's rounds (local/recovery.ts) over a scripted sweeper.
 */
import { expect } from "chai";
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import { tmpdir } from "node:os";
import * as path from "node:path";
import type { AttributeValue, DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { checkPortFree, inFlightMessage, parseCli, startupErrorLine, USAGE } from "../../local/cli";
import { claimDataDir } from "../../local/dataDir";
import { repairIndexes } from "../../local/dynamo";
import { startWebServer } from "../../local/web";
import type { LocalFunctions } from "../../local/lambda";
import { createLogger } from "../../local/log";
import { reconcileAtStart, STARTUP_SWEEP, STARTUP_SWEEP_ROUNDS } from "../../local/recovery";
import type { LocalTable, LocalTopology } from "../../local/topology";
import type { SweepEntry, SweepReport } from "../../functions/sweepOrders";
import { ORDER_GSIS } from "../../components/orderData";
import {
  listShardKey,
  listSortKey,
  ORDER_INDEX_KEYS,
  shardOf,
  statusShardKey,
} from "../../functions/shared/orderStore";
import type { OrderStatus } from "../../functions/shared/types";

const ROOT = path.join(__dirname, "..", "..");

/** What `npm start` prints for these flags (undefined: no error). */
function lineFor(argv: string[]): string | undefined {
  try {
    parseCli(argv, ROOT);
    return undefined;
  } catch (err) {
    return startupErrorLine(err, 4000);
  }
}

describe("offline start-up: one line per problem, no stack trace", () => {
  it("valid flags parse; the data dir is made absolute", () => {
    const o = parseCli(["--port", "0", "--data-dir", "rel/dir", "--fast", "--log-level", "silent"], ROOT);
    expect(o).to.deep.include({
      port: 0,
      webPort: 3000,
      fast: true,
      logLevel: "silent",
      stack: "dev",
      throttle: true,
    });
    expect(o.dataDir).to.equal(path.resolve("rel/dir"));
  });

  const cases: [string, string[], string][] = [
    ["an unknown flag: the problem, then the usage", ["--bogus"], `Unknown option '--bogus'\n${USAGE}`],
    [
      "an unknown stack: the stacks there are, then the usage",
      ["--stack", "prod"],
      `--stack: no Pulumi.prod.yaml (stacks: dev)\n${USAGE}`,
    ],
    [
      "a bad --log-level",
      ["--log-level", "loud"],
      '--log-level: unknown level "loud" (one of debug, info, warn, error, silent)',
    ],
    ["a port that is not one", ["--port", "70000"], "--port: not a port number: 70000 (0 picks a free one)"],
    [
      "a web port that is not one",
      ["--web-port", "x"],
      "--web-port: not a port number: x (0 picks a free one)",
    ],
    [
      "the web page on the API's port",
      ["--port", "4100", "--web-port", "4100"],
      "--web-port 4100: the API already takes that port (--port); pick another",
    ],
  ];
  for (const [title, argv, expected] of cases) {
    it(title, () => expect(lineFor(argv)).to.equal(expected));
  }

  it("a port in use names --port, before anything starts", async () => {
    const server = net.createServer();
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const port = (server.address() as net.AddressInfo).port;
    try {
      const err = await checkPortFree(port).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(startupErrorLine(err, port)).to.equal(
        `--port ${port}: the port is in use; pick another with --port <n> (0 picks a free one)`,
      );
      // The same line if the API's own listen loses a race for it.
      expect(startupErrorLine(Object.assign(new Error("listen"), { code: "EADDRINUSE" }), port)).to.equal(
        startupErrorLine(err, port),
      );
    } finally {
      server.close();
    }
  });

  it("a web port lost to a race names --web-port in one line (the page's server, after the checks)", async () => {
    const server = net.createServer();
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const port = (server.address() as net.AddressInfo).port;
    try {
      const err = await startWebServer({ port }).then(
        async (web) => (await web.stop(), undefined),
        (e: unknown) => e,
      );
      expect(startupErrorLine(err, 4000)).to.match(new RegExp(`^--web-port ${port}: the port is in use`));
    } finally {
      server.close();
    }
  });

  it("an unexpected error is not turned into a one-liner (main prints it whole)", () => {
    expect(startupErrorLine(new TypeError("x is undefined"), 4000)).to.equal(undefined);
  });

  it("Ctrl-C says how many orders are in flight and what happens to them", () => {
    expect(inFlightMessage({}, "/d")).to.equal("No orders in flight.");
    expect(inFlightMessage({ NEW: 2, PAID: 1 }, "/d")).to.equal(
      "3 orders in flight (2 NEW, 1 PAID): they are settled (completed, compensated or restarted) when you start again with --data-dir /d.",
    );
    expect(inFlightMessage({ PROCESSING: 1 }, undefined)).to.match(/^1 order in flight .*lost.*--data-dir/);
  });
});

describe("npm start and SIGTERM", function () {
  this.timeout(90_000);

  /** True while any process of the group is alive. */
  const groupAlive = (pgid: number) => {
    try {
      process.kill(-pgid, 0);
      return true;
    } catch {
      return false;
    }
  };

  it("SIGTERM to npm stops node too (nothing left in the group), after the in-flight line", async () => {
    const npm = spawn("npm", ["start", "--", "--port", "0", "--web-port", "0", "--log-level", "silent"], {
      cwd: ROOT,
      detached: true,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    npm.stdout!.on("data", (c: Buffer) => (out += c.toString("utf8")));
    npm.stderr!.on("data", (c: Buffer) => (out += c.toString("utf8")));
    try {
      const deadline = Date.now() + 75_000;
      while (!out.includes("orderflow offline is up")) {
        if (Date.now() > deadline || npm.exitCode !== null)
          throw new Error(`npm start did not come up:\n${out}`);
        await new Promise((r) => setTimeout(r, 100));
      }
      // To npm only, as a process manager or `kill <pid>` would send it.
      process.kill(npm.pid!, "SIGTERM");
      const stopBy = Date.now() + 10_000;
      while (groupAlive(npm.pid!) && Date.now() < stopBy) await new Promise((r) => setTimeout(r, 100));
      expect(groupAlive(npm.pid!), "a process of npm start outlived SIGTERM").to.equal(false);
      expect(out)
        .to.contain("SIGTERM: stopping...")
        .and.to.contain("No orders in flight.")
        .and.to.contain("Stopped.");
    } finally {
      if (groupAlive(npm.pid!)) process.kill(-npm.pid!, "SIGKILL");
    }
  });
});

describe("--data-dir: one instance per directory", () => {
  let dir: string;
  beforeEach(() => (dir = fs.mkdtempSync(path.join(tmpdir(), "orderflow-dd-"))));
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it("claims the directory (creating it) and releases it", () => {
    const data = path.join(dir, "data");
    const release = claimDataDir(data);
    expect(fs.readFileSync(path.join(data, "orderflow.pid"), "utf8")).to.equal(String(process.pid));
    release();
    expect(fs.existsSync(path.join(data, "orderflow.pid"))).to.equal(false);
  });

  it("refuses a directory a running instance holds, naming the path and the pid", () => {
    // Our parent is alive and is not us: it stands for the other instance.
    fs.writeFileSync(path.join(dir, "orderflow.pid"), String(process.ppid));
    expect(() => claimDataDir(dir)).to.throw(
      `--data-dir ${dir} is in use by another orderflow instance (pid ${process.ppid})`,
    );
  });

  it("takes over a pid file left by a killed run", () => {
    fs.writeFileSync(path.join(dir, "orderflow.pid"), "2147483646");
    const release = claimDataDir(dir);
    expect(fs.readFileSync(path.join(dir, "orderflow.pid"), "utf8")).to.equal(String(process.pid));
    release();
  });

  it("refuses a path that is not a directory, naming it", () => {
    const file = path.join(dir, "file");
    fs.writeFileSync(file, "x");
    let err: unknown;
    try {
      claimDataDir(file);
    } catch (e) {
      err = e;
    }
    expect(startupErrorLine(err, 4000)).to.equal(`--data-dir ${file} is not a directory`);
  });
});

// ---- index repair ------------------------------------------------------------------------------

type Item = Record<string, AttributeValue>;
type Index = LocalTable["globalSecondaryIndexes"][number];
/** The orders table as the data component defines it: sharded keys, INCLUDE projections. */
const TABLE: LocalTable = {
  name: "orders",
  hashKey: "orderId",
  attributes: [],
  globalSecondaryIndexes: ORDER_GSIS.map((g) => ({ ...g, nonKeyAttributes: [...g.nonKeyAttributes] })),
};

/** What an index entry holds of an item, as dynalite stores it (db/index.js getIndexActions). */
const projected = (g: Index, item: Item): Item =>
  g.projectionType === "ALL"
    ? item
    : Object.fromEntries(
        [TABLE.hashKey, g.hashKey, g.rangeKey!, ...(g.nonKeyAttributes ?? [])]
          .filter((a) => item[a] !== undefined)
          .map((a) => [a, item[a]]),
      );

/**
 * dynalite's table and GSIs as maps, with its write order (node_modules/dynalite/db/index.js
 * updateIndexes): a put drops the old version's index entries whose key changes and writes the
 * new version's projection, then the item. `tear(item)` stops after the index writes, as a
 * SIGKILL can.
 */
function dynaliteModel() {
  const base = new Map<string, Item>();
  const indexes = new Map(TABLE.globalSecondaryIndexes.map((g) => [g.name, new Map<string, Item>()]));
  const indexKey = (g: Index, item: Item) =>
    item[g.hashKey] && item[g.rangeKey!]
      ? JSON.stringify([item[g.hashKey], item[g.rangeKey!], item.orderId])
      : undefined;
  const writeIndexes = (existing: Item | undefined, item: Item | undefined) => {
    for (const g of TABLE.globalSecondaryIndexes) {
      const map = indexes.get(g.name)!;
      const oldKey = existing && indexKey(g, existing);
      const newKey = item && indexKey(g, item);
      if (oldKey && oldKey !== newKey) map.delete(oldKey);
      if (newKey) map.set(newKey, projected(g, item!));
    }
  };
  const put = (item: Item) => {
    writeIndexes(base.get(item.orderId.S!), item);
    base.set(item.orderId.S!, item);
  };
  const client = {
    async send(command: { constructor: { name: string }; input: Record<string, unknown> }) {
      const input = command.input as { IndexName?: string; Item?: Item; Key?: Item };
      switch (command.constructor.name) {
        case "ScanCommand":
          return { Items: [...(input.IndexName ? indexes.get(input.IndexName)! : base).values()] };
        case "PutItemCommand":
          return (put(input.Item!), {});
        case "DeleteItemCommand":
          writeIndexes(base.get(input.Key!.orderId.S!), undefined);
          base.delete(input.Key!.orderId.S!);
          return {};
        default:
          throw new Error(`not modelled: ${command.constructor.name}`);
      }
    },
  } as unknown as DynamoDBClient;
  /** Every index holds exactly the projection of every base item. */
  const agree = () =>
    TABLE.globalSecondaryIndexes.every((g) => {
      const entries = [...indexes.get(g.name)!.values()].map((i) => JSON.stringify(i)).sort();
      const expected = [...base.values()].map((i) => JSON.stringify(projected(g, i))).sort();
      return JSON.stringify(entries) === JSON.stringify(expected);
    });
  return {
    base,
    indexes,
    put,
    tear: (item: Item) => writeIndexes(base.get(item.orderId.S!), item),
    client,
    agree,
  };
}

/** An order item as the store writes it, with its index keys and attributes no index projects. */
const order = (id: string, status: OrderStatus, extra: Item = {}): Item => {
  const createdAt = `2026-01-01T00:00:0${id}.000Z`;
  const shard = shardOf(id);
  return {
    orderId: { S: id },
    status: { S: status },
    createdAt: { S: createdAt },
    paymentToken: { S: `tok_${id}` },
    requestHash: { S: `hash_${id}` },
    [ORDER_INDEX_KEYS.listShard]: { S: listShardKey(shard) },
    [ORDER_INDEX_KEYS.statusShard]: { S: statusShardKey(status, shard) },
    [ORDER_INDEX_KEYS.listSort]: { S: listSortKey({ createdAt, orderId: id }) },
    ...extra,
  };
};

describe("repairIndexes: index entries torn from their item by a kill", () => {
  it("a status change torn after the index writes: the item (the unacknowledged write never happened) wins", async () => {
    const db = dynaliteModel();
    db.put(order("1", "PROCESSING"));
    db.put(order("2", "COMPLETED"));
    db.tear(order("1", "PAID", { chargeId: { S: "ch_1" } }));
    expect(db.agree(), "torn").to.equal(false);
    const repairs = await repairIndexes(db.client, TABLE);
    expect(db.agree()).to.equal(true);
    expect(db.base.get("1")).to.deep.equal(order("1", "PROCESSING"));
    // byCreatedAt's entry kept its key but took the torn version's status and chargeId. It carries
    // no statusShard, so rewriting it leaves byStatus's torn entry (under PAID) alone: byStatus's
    // own pass repairs that one.
    expect(repairs.map((r) => [r.index, r.key.orderId.S, r.kind])).to.deep.equal([
      ["byCreatedAt", "1", "stale"],
      ["byStatus", "1", "stale"],
    ]);
  });

  it("a first put torn (index entries of an order that was never stored): removed", async () => {
    const db = dynaliteModel();
    db.tear(order("3", "NEW"));
    await repairIndexes(db.client, TABLE);
    expect(db.agree()).to.equal(true);
    expect(db.base.size).to.equal(0);
  });

  it("an entry missing from an index (the old one deleted, the new one not written): restored", async () => {
    const db = dynaliteModel();
    db.put(order("4", "NEW"));
    db.indexes.get("byStatus")!.clear();
    const repairs = await repairIndexes(db.client, TABLE);
    expect(db.agree()).to.equal(true);
    expect(repairs).to.deep.equal([
      { table: "orders", index: "byStatus", key: { orderId: { S: "4" } }, kind: "missing" },
    ]);
  });

  it("nothing to do when they agree: an entry is compared with the projection of its item", async () => {
    const db = dynaliteModel();
    db.put(order("5", "FAILED"));
    // The entries lack what the INCLUDE projection leaves out, so they differ from the whole item.
    for (const index of db.indexes.values())
      expect([...index.values()].map((e) => e.paymentToken)).to.deep.equal([undefined]);
    expect(await repairIndexes(db.client, TABLE)).to.deep.equal([]);
  });
});

describe("reconcileAtStart: the start-up sweep runs again while a run is truncated", () => {
  /** A sweeper that answers the given reports in turn, recording the events it was sent. */
  function scripted(reports: Partial<SweepReport>[]) {
    const events: unknown[] = [];
    const functions = {
      async invoke(name: string, event: unknown) {
        expect(name).to.equal("sweeper");
        events.push(event);
        const r = reports[Math.min(events.length - 1, reports.length - 1)];
        return { olderThanSeconds: 0, inFlight: 0, entries: [], truncated: false, ...r };
      },
    } as unknown as LocalFunctions;
    const topology = { functions: [{ name: "sweeper", handler: "sweepOrders" }] } as unknown as LocalTopology;
    const lines: string[] = [];
    const log = createLogger("debug", (l) => lines.push(l));
    return {
      run: (keptTables = true) => reconcileAtStart({ topology, functions, repaired: [], keptTables, log }),
      events,
      lines,
    };
  }
  const e = (orderId: string, action: SweepEntry["action"]): SweepEntry => ({
    orderId,
    status: "NEW",
    action,
  });

  it("until a run finishes; an order met in several rounds counts once, with its last action", async () => {
    const s = scripted([
      { entries: [e("a", "started"), e("b", "retry"), e("x", "needsAttention")], truncated: true },
      { entries: [e("b", "compensated"), e("c", "committed"), e("x", "needsAttention")], truncated: true },
      { entries: [e("x", "needsAttention")], truncated: false },
    ]);
    const r = await s.run();
    expect(s.events).to.deep.equal([STARTUP_SWEEP, STARTUP_SWEEP, STARTUP_SWEEP]);
    expect(r.actions).to.deep.equal({ started: 1, compensated: 1, committed: 1, needsAttention: 1 });
    expect(r.needsAttention).to.deep.equal(["x"]);
  });

  it("does not sweep tables created empty at this start (no --data-dir): nothing can be left over", async () => {
    const s = scripted([{ entries: [e("a", "started")], truncated: false }]);
    const r = await s.run(false);
    expect(s.events).to.deep.equal([]);
    expect(r).to.deep.include({ repaired: 0, actions: {}, needsAttention: [] });
  });

  it("stops when a truncated run acted on nothing (another would repeat it), or after the round limit", async () => {
    const idle = scripted([{ entries: [e("a", "running")], truncated: true }]);
    await idle.run();
    expect(idle.events).to.have.length(1);
    expect(idle.lines.some((l) => l.includes("left orders for the scheduled runs"))).to.equal(true);

    const busy = scripted([{ entries: [e("a", "started")], truncated: true }]);
    await busy.run();
    expect(busy.events).to.have.length(STARTUP_SWEEP_ROUNDS);
  });
});
