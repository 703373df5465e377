import type { Context } from "aws-lambda";

/** The part of Lambda's context a handler reads for its time (a fake in tests, the runtime's on AWS). */
export type TimeContext = Pick<Context, "getRemainingTimeInMillis">;

/**
 * Whether another unit of work may start: true while the invocation has at least `reserveMs`
 * left (always, without a context). Latched: remaining time only shrinks, so once it is short
 * the answer stays false, and a unit checked a moment later (another worker, a later page)
 * is not started after one before it was refused.
 */
export function timeBudget(context: TimeContext | undefined, reserveMs: number): () => boolean {
  let short = false;
  return () => {
    short ||= context !== undefined && context.getRemainingTimeInMillis() < reserveMs;
    return !short;
  };
}
