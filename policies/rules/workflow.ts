/**
 * Step Functions: execution logging and X-Ray tracing (Checkov CKV_AWS_284/CKV_AWS_285,
 * Security Hub StepFunctions.1), and every wait-for-callback task bounded and caught: without
 * TimeoutSeconds a lost task token leaves the execution (and the order) waiting for up to a year;
 * without HeartbeatSeconds a dead worker is noticed only at the timeout; without a Catch a timeout
 * fails the execution instead of compensating.
 * https://docs.aws.amazon.com/step-functions/latest/dg/connect-to-resource.html#connect-wait-token
 */
import * as aws from "@pulumi/aws";
import { ResourceValidationPolicy, validateResourceOfType } from "@pulumi/policy";
import { asArray, DEFAULT_ENFORCEMENT, isNonEmptyString, parseJsonDocument } from "./util";

export const sfnLoggingEnabled: ResourceValidationPolicy = {
  name: "sfn-logging-enabled",
  description:
    'State machines must log executions to CloudWatch Logs: set loggingConfiguration to { level: "ALL" | "ERROR" | "FATAL", logDestination: "<log group ARN>:*" }.',
  enforcementLevel: DEFAULT_ENFORCEMENT,
  severity: "medium",
  validateResource: validateResourceOfType(aws.sfn.StateMachine, (sm, _args, reportViolation) => {
    const logging = sm.loggingConfiguration;
    const level = logging?.level ?? "OFF";
    if (level === "OFF") reportViolation("loggingConfiguration.level is OFF.");
    if (!isNonEmptyString(logging?.logDestination))
      reportViolation("loggingConfiguration.logDestination is not set.");
  }),
};

export const sfnTracingEnabled: ResourceValidationPolicy = {
  name: "sfn-tracing-enabled",
  description:
    "State machines must trace executions with X-Ray: set tracingConfiguration to { enabled: true }.",
  enforcementLevel: DEFAULT_ENFORCEMENT,
  severity: "low",
  validateResource: validateResourceOfType(aws.sfn.StateMachine, (sm, _args, reportViolation) => {
    if (sm.tracingConfiguration?.enabled !== true)
      reportViolation("tracingConfiguration.enabled is not true.");
  }),
};

type State = Record<string, unknown>;

/** Every state of a definition, nested Parallel branches and Map processors included. */
function allStates(definition: Record<string, unknown>, path = ""): { path: string; state: State }[] {
  const out: { path: string; state: State }[] = [];
  const states = (definition.States ?? {}) as Record<string, State>;
  for (const [name, state] of Object.entries(states)) {
    const here = path ? `${path}/${name}` : name;
    out.push({ path: here, state });
    asArray(state.Branches as Record<string, unknown>[]).forEach((branch, i) =>
      out.push(...allStates(branch, `${here}[${i}]`)),
    );
    for (const key of ["Iterator", "ItemProcessor"]) {
      const nested = state[key] as Record<string, unknown> | undefined;
      if (nested && typeof nested === "object") out.push(...allStates(nested, `${here}.${key}`));
    }
  }
  return out;
}

const isPositiveInt = (v: unknown) => Number.isInteger(v) && (v as number) > 0;

export const sfnCallbackTasksBounded: ResourceValidationPolicy = {
  name: "sfn-callback-tasks-bounded",
  description:
    "Every .waitForTaskToken task must set TimeoutSeconds, HeartbeatSeconds (smaller than the timeout) and a Catch that handles States.Timeout (or States.ALL), so a lost token or dead worker ends in compensation, not a year-long wait.",
  enforcementLevel: DEFAULT_ENFORCEMENT,
  severity: "high",
  validateResource: validateResourceOfType(aws.sfn.StateMachine, (sm, _args, reportViolation) => {
    const parsed = parseJsonDocument(sm.definition);
    if ("error" in parsed) {
      reportViolation(`definition: ${parsed.error}.`);
      return;
    }
    for (const { path, state } of allStates(parsed.doc)) {
      if (
        state.Type !== "Task" ||
        typeof state.Resource !== "string" ||
        !state.Resource.endsWith(".waitForTaskToken")
      )
        continue;
      const timeout = state.TimeoutSeconds;
      const heartbeat = state.HeartbeatSeconds;
      const hasTimeout = isPositiveInt(timeout) || isNonEmptyString(state.TimeoutSecondsPath);
      const hasHeartbeat = isPositiveInt(heartbeat) || isNonEmptyString(state.HeartbeatSecondsPath);
      if (!hasTimeout) reportViolation(`state ${path} has no TimeoutSeconds.`);
      if (!hasHeartbeat) reportViolation(`state ${path} has no HeartbeatSeconds.`);
      if (
        isPositiveInt(timeout) &&
        isPositiveInt(heartbeat) &&
        (heartbeat as number) >= (timeout as number)
      ) {
        reportViolation(
          `state ${path} has HeartbeatSeconds ${String(heartbeat)} >= TimeoutSeconds ${String(timeout)}.`,
        );
      }
      const caught = asArray(state.Catch as { ErrorEquals?: string[] }[]).flatMap((c) =>
        asArray(c.ErrorEquals),
      );
      if (caught.length === 0) reportViolation(`state ${path} has no Catch.`);
      else if (!caught.includes("States.ALL") && !caught.includes("States.Timeout")) {
        reportViolation(`state ${path} catches ${caught.join(", ")} but not States.Timeout or States.ALL.`);
      }
    }
  }),
};

export const workflowPolicies = [sfnLoggingEnabled, sfnTracingEnabled, sfnCallbackTasksBounded];
