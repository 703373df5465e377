/**
 * Crash safety (issue 12): under load, SIGKILL the whole offline system (its process group) at a
 * random moment, restart it on the same --data-dir, and check over every order ever accepted,
 * from the tables and the API: all terminal, charges - refunds = COMPLETED totals, stock + sold =
 * seed, no reservation left, nothing charged twice, GET and the listings agree.
 *
 * Seeded and bounded: ORDERFLOW_CRASH_ROUNDS (default 5) rounds from ORDERFLOW_CRASH_SEED
 * (default: the clock; a failing round prints the values that replay it). Payment tokens are
 * tok_visa and tok_decline, plus orders declined by the total limit or out of stock: tok_fail's
 * path waits for the heartbeat timeout and is covered by recovery.spec.ts.
 */
import { expect } from "chai";
import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import type { Order } from "../../functions/shared/types";
import type { LedgerEntry } from "../../functions/shared/ledger";
import { captureTopology, tableNames } from "../../local/system";
import { violations, type Tables } from "../support/invariant";
import { apiDisagreements, killGroup, scan, seeded, startChild, type Running } from "./support/crash";
import { sleep } from "./support/offline";

const ROUNDS = Number(process.env.ORDERFLOW_CRASH_ROUNDS ?? 5);
const BASE_SEED = Number(process.env.ORDERFLOW_CRASH_SEED ?? Date.now() % 1_000_000_000);
const API_KEY = "crash-spec-key";

interface Attempt {
  key: string;
  body: string;
}

describe("crash: SIGKILL under load, restart on the same --data-dir, every order settles", function () {
  this.timeout(60_000 + ROUNDS * 45_000);
  let dir: string;
  let topologyFile: string;
  let names: ReturnType<typeof tableNames>;
  let seedStock: Record<string, number>;
  let running: Running | undefined;

  before(async function () {
    this.timeout(120_000);
    dir = mkdtempSync(path.join(tmpdir(), "orderflow-crash-"));
    // Not `skipCodePackaging`: the capture is once per process and later specs read the code.
    const topology = await captureTopology("dev");
    topologyFile = path.join(dir, "topology.json");
    writeFileSync(topologyFile, JSON.stringify(topology));
    names = tableNames(topology);
    seedStock = Object.fromEntries(
      topology.seedItems
        .filter((s) => s.tableName === names.inventory)
        .map((s) => {
          const item = s.item as { sku: { S: string }; stock: { N: string } };
          return [item.sku.S, Number(item.stock.N)];
        }),
    );
  });

  after(async () => {
    if (running) await killGroup(running.child);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** Orders with random lines and tokens; some declined by the total limit, some out of stock. */
  function randomBody(rng: () => number): string {
    const skus = Object.keys(seedStock);
    const lines = skus.filter(() => rng() < 0.4).slice(0, 3);
    if (lines.length === 0) lines.push(skus[Math.floor(rng() * skus.length)]);
    const big = rng() < 0.08; // above the simulator's limit: declined
    const items = lines.map((sku) => ({ sku, quantity: big ? 60 : 1 + Math.floor(rng() * 3) }));
    const token = rng() < 0.15 ? "tok_decline" : "tok_visa";
    return JSON.stringify({ customer: { email: "crash@example.com" }, items, payment: { token } });
  }

  const post = async (url: string, a: Attempt): Promise<string | undefined> => {
    const res = await fetch(`${url}/orders`, {
      method: "POST",
      headers: { "x-api-key": API_KEY, "content-type": "application/json", "idempotency-key": a.key },
      body: a.body,
    });
    const json = (await res.json()) as { orderId?: string };
    if (res.status !== 201) throw new Error(`POST /orders: ${res.status} ${JSON.stringify(json)}`);
    return json.orderId;
  };

  /** Workers posting orders until `stop()`; a request cut by the kill is kept to retry. */
  function load(url: string, rng: () => number, accepted: Set<string>, cut: Attempt[]) {
    let stopped = false;
    const worker = async () => {
      while (!stopped) {
        const a = { key: randomUUID(), body: randomBody(rng) };
        try {
          const id = await post(url, a);
          if (id) accepted.add(id);
        } catch (err) {
          if (stopped || (err as Error).message.startsWith("fetch failed")) cut.push(a);
          else throw err;
        }
      }
    };
    const workers = Promise.all(Array.from({ length: 6 }, worker));
    return { stop: () => (stopped = true), done: workers };
  }

  async function tablesOf(r: Running): Promise<Tables> {
    return {
      orders: await scan<Order>(r.dynamo, names.orders),
      ledger: await scan<LedgerEntry>(r.dynamo, names.payments),
      stock: await scan(r.dynamo, names.inventory),
    };
  }

  /** Waits until no order is in flight (at most `ms`), then returns the tables. */
  async function settled(r: Running, ms = 40_000): Promise<Tables> {
    const deadline = Date.now() + ms;
    for (;;) {
      const t = await tablesOf(r);
      const open = t.orders.filter((o) => o.status !== "COMPLETED" && o.status !== "FAILED");
      if (open.length === 0 || Date.now() > deadline) return t;
      await sleep(250);
    }
  }

  it(`${ROUNDS} rounds: every order COMPLETED or FAILED, ledger balanced, stock conserved, API consistent`, async () => {
    const accepted = new Set<string>();
    running = await startChild(topologyFile, path.join(dir, "data"), API_KEY);
    for (let round = 0; round < ROUNDS; round++) {
      const seed = BASE_SEED + round;
      const rng = seeded(seed);
      const replay = `round ${round}: replay with ORDERFLOW_CRASH_SEED=${BASE_SEED} ORDERFLOW_CRASH_ROUNDS=${round + 1} (round seed ${seed})`;
      const cut: Attempt[] = [];
      const l = load(running.url, rng, accepted, cut);
      const killAfter = 200 + Math.floor(rng() * 1800);
      await sleep(killAfter);
      await killGroup(running.child);
      l.stop();
      await l.done;

      const started = Date.now();
      running = await startChild(topologyFile, path.join(dir, "data"), API_KEY);
      const up = Date.now() - started;
      // A client retries what the kill cut off, with the same Idempotency-Key.
      for (const a of cut) accepted.add((await post(running.url, a))!);
      const t = await settled(running);
      const problems = [
        ...violations(t, seedStock, accepted),
        ...(await apiDisagreements(running.url, API_KEY, t.orders)),
      ];
      const summary = `${t.orders.length} orders, killed after ${killAfter} ms, up again in ${up} ms, settled in ${Date.now() - started} ms, start-up: ${JSON.stringify(running.recovery)}`;
      if (problems.length) {
        const report = `crash ${replay}\n  ${summary}\n  ${problems.slice(0, 20).join("\n  ")}\n--- child output ---\n${running.tail()}`;
        process.stdout.write(`${report}\n`);
        expect.fail(report);
      }
      if (process.env.ORDERFLOW_CRASH_VERBOSE) process.stdout.write(`  round ${round}: ${summary}\n`);
    }
    expect(accepted.size, "orders accepted over all rounds").to.be.greaterThan(ROUNDS);
  });
});
