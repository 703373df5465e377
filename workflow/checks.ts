import type { StateMachineDefinition } from "./definition";
import { arnPartition, parseTaskResource } from "./resources";

/**
 * Checks that asl-validator does not make, for any definition of this shape: every callback task
 * is bounded (timeout and heartbeat) and caught, every Task is caught, every failure of the
 * callback reaches the compensation state, no state is unreachable, every Task names an
 * integration the offline runtime serves, and all of them (and the functions they invoke) sit in
 * one partition, whichever it is. Returns the problems.
 */
export function checkWorkflow(definition: StateMachineDefinition, compensationState: string): string[] {
  const problems: string[] = [];
  const states = definition.States;
  if (!states[compensationState]) problems.push(`compensation state ${compensationState} is missing`);

  // Partition -> the states whose Resource or FunctionName ARN names it. An account lives in one
  // partition, so a definition naming two cannot run whole (a copied ARN left at `arn:aws:`).
  const partitions = new Map<string, string[]>();
  const notePartition = (partition: string | undefined, name: string) => {
    if (partition === undefined) return;
    partitions.set(partition, [...(partitions.get(partition) ?? []), name]);
  };

  for (const [name, state] of Object.entries(states)) {
    if (state.Type !== "Task") continue;
    const resource = parseTaskResource(state.Resource);
    if (!resource.ok) problems.push(`${name}: ${resource.reason}`);
    notePartition(arnPartition(state.Resource), name);
    notePartition(
      arnPartition((state.Parameters as Record<string, unknown> | undefined)?.FunctionName),
      name,
    );
    const catches = (state.Catch as { ErrorEquals: string[]; Next: string }[] | undefined) ?? [];
    if (!catches.some((c) => c.ErrorEquals.includes("States.ALL"))) {
      problems.push(`${name}: a Task without a Catch on States.ALL fails the execution unhandled`);
    }
    if (typeof state.Resource === "string" && state.Resource.endsWith(".waitForTaskToken")) {
      const timeout = state.TimeoutSeconds as number | undefined;
      const heartbeat = state.HeartbeatSeconds as number | undefined;
      if (!timeout) problems.push(`${name}: callback task without TimeoutSeconds waits up to a year`);
      if (!heartbeat) problems.push(`${name}: callback task without HeartbeatSeconds`);
      if (timeout && heartbeat && heartbeat >= timeout) {
        problems.push(`${name}: HeartbeatSeconds must be below TimeoutSeconds`);
      }
      if (!JSON.stringify(state.Parameters ?? {}).includes('"$$.Task.Token"')) {
        problems.push(`${name}: callback task does not pass $$.Task.Token`);
      }
      for (const c of catches) {
        if (!reaches(states, c.Next, compensationState)) {
          problems.push(
            `${name}: Catch ${c.ErrorEquals.join("|")} -> ${c.Next} never reaches ${compensationState}`,
          );
        }
      }
    }
  }

  if (partitions.size > 1) {
    const found = [...partitions].map(([p, names]) => `${p} (${[...new Set(names)].join(", ")})`);
    problems.push(`ARNs in more than one partition: ${found.join("; ")}`);
  }

  const reachable = new Set<string>();
  const visit = (name: string) => {
    if (reachable.has(name) || !states[name]) return;
    reachable.add(name);
    successors(states[name]).forEach(visit);
  };
  visit(definition.StartAt);
  for (const name of Object.keys(states)) {
    if (!reachable.has(name)) problems.push(`${name}: unreachable`);
  }
  return problems;
}

/** Whether the workflow has a callback task at all (the program's contract with process_payment). */
export function callbackStates(definition: StateMachineDefinition): string[] {
  return Object.entries(definition.States)
    .filter(([, s]) => {
      const resource = parseTaskResource(s.Resource);
      return resource.ok && resource.integration === "callback";
    })
    .map(([name]) => name);
}

function successors(state: Record<string, unknown>): string[] {
  const next = typeof state.Next === "string" ? [state.Next] : [];
  const catches = ((state.Catch as { Next: string }[] | undefined) ?? []).map((c) => c.Next);
  const choices = ((state.Choices as { Next: string }[] | undefined) ?? []).map((c) => c.Next);
  const fallback = typeof state.Default === "string" ? [state.Default] : [];
  return [...next, ...catches, ...choices, ...fallback];
}

function reaches(states: Record<string, Record<string, unknown>>, from: string, target: string): boolean {
  const seen = new Set<string>();
  const stack = [from];
  while (stack.length) {
    const name = stack.pop() as string;
    if (name === target) return true;
    if (seen.has(name) || !states[name]) continue;
    seen.add(name);
    stack.push(...successors(states[name]));
  }
  return false;
}
