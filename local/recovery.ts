/**
 * Restart reconciliation for the offline runtime.
 *
 * What AWS keeps durably (queue messages, executions and their task tokens) lives in memory
 * here, so a stop or a kill loses it, while `--data-dir` keeps the tables. Rather than persisting
 * three emulators' internal state (aws-local-stepfunctions cannot resume an execution mid-wait),
 * the runtime repairs the tables (./dynamo.ts repairIndexes) and runs the sweeper once at
 * start-up over every order, with no age threshold: no execution survives a restart, so each
 * non-terminal order is completed, compensated or restarted from what the tables record, and
 * loose ends on terminal orders are closed (functions/sweepOrders.ts has the decision table).
 * The same code settles the same states on AWS, on its schedule. A run stops early (`truncated`)
 * when the function's time runs low, so the sweep is invoked again until one finishes.
 */
import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import type { IndexRepair } from "./dynamo";
import type { LocalFunctions } from "./lambda";
import type { Logger } from "./log";
import type { LocalTopology } from "./topology";
import { dynamoOrderStatusSource } from "../functions/shared/orderStore";
import { NON_TERMINAL, SWEEP_EFFECTS, type SweepAction, type SweepReport } from "../functions/sweepOrders";

export interface StartupRecovery {
  /** Index entries that disagreed with their item after a kill (repaired before anything ran). */
  repaired: number;
  /** What the start-up sweep did, per action. */
  actions: Partial<Record<SweepAction, number>>;
  /** Orders that need a person (records contradict each other): their ids. */
  needsAttention: string[];
  ms: number;
}

/** The sweep event: every order regardless of age, every FAILED order, as many as one run can. */
export const STARTUP_SWEEP = {
  olderThanSeconds: 0,
  lookbackSeconds: 366 * 86_400,
  maxOrders: 100_000,
} as const;

/** Sweeps invoked at most at start-up: each truncated run that acted is followed by another. */
export const STARTUP_SWEEP_ROUNDS = 20;

export async function reconcileAtStart(opts: {
  topology: LocalTopology;
  functions: LocalFunctions;
  repaired: IndexRepair[];
  /**
   * The tables come from an earlier run (`--data-dir`). Without it they were created empty just
   * now, so nothing can be left over and the sweep (~110 requests to dynalite) is skipped.
   */
  keptTables: boolean;
  log: Logger;
}): Promise<StartupRecovery> {
  const t0 = Date.now();
  const sweeper = opts.topology.functions.find((f) => f.handler === "sweepOrders");
  const recovery: StartupRecovery = {
    repaired: opts.repaired.length,
    actions: {},
    needsAttention: [],
    ms: 0,
  };
  for (const r of opts.repaired) opts.log.warn("index entry repaired after an unclean stop", { ...r });
  if (!sweeper || !opts.keptTables) return recovery;
  // Every run starts from the oldest order again: orders it settled are gone from the index, so
  // a truncated run that acted leaves less for the next. One that acted on nothing would only
  // repeat itself: stop there (the schedule carries on).
  // An order seen again by a later round (one left alone, or a retry that then worked) counts once,
  // with what the last round did to it.
  const last = new Map<string, SweepAction>();
  for (let round = 1; ; round++) {
    const report = (await opts.functions.invoke(sweeper.name, STARTUP_SWEEP)) as SweepReport;
    for (const e of report.entries) last.set(e.orderId, e.action);
    if (!report.truncated) break;
    const acted = report.entries.some((e) => SWEEP_EFFECTS.includes(e.action));
    if (!acted || round >= STARTUP_SWEEP_ROUNDS) {
      opts.log.warn("start-up sweep left orders for the scheduled runs", { rounds: round });
      break;
    }
  }
  for (const [orderId, action] of last) {
    recovery.actions[action] = (recovery.actions[action] ?? 0) + 1;
    if (action === "needsAttention") recovery.needsAttention.push(orderId);
  }
  recovery.ms = Date.now() - t0;
  if (last.size || recovery.repaired) {
    opts.log.info("start-up reconciliation", {
      ...recovery.actions,
      repaired: recovery.repaired,
      ms: recovery.ms,
    });
  }
  return recovery;
}

/** One line for the banner, or undefined when there was nothing to do. */
export function describeRecovery(r: StartupRecovery): string | undefined {
  const parts = Object.entries(r.actions).map(([action, n]) => `${n} ${action}`);
  if (r.repaired) parts.push(`${r.repaired} index entr${r.repaired === 1 ? "y" : "ies"} repaired`);
  if (!parts.length) return undefined;
  const attention = r.needsAttention.length ? ` (needs a person: ${r.needsAttention.join(", ")})` : "";
  return `settled what the last run left: ${parts.join(", ")}${attention}`;
}

/**
 * Orders by non-terminal status, statuses with none left out (the shutdown message): counted
 * on the status index like the sweeper's OrdersInFlight, not by scanning every order.
 */
export async function countInFlight(client: DynamoDBClient, table: string): Promise<Record<string, number>> {
  const source = dynamoOrderStatusSource(client, table);
  const counts = await Promise.all(NON_TERMINAL.map(async (s) => [s, await source.count(s)] as const));
  return Object.fromEntries(counts.filter(([, n]) => n > 0));
}
