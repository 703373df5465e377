import { CALLBACK_RESOURCE, StateMachineDefinition } from "./definition";

/**
 * Checks that asl-validator does not make, for any definition of this shape: every callback task
 * is bounded (timeout and heartbeat) and caught, every Task is caught, every failure of the
 * callback reaches the compensation state, and no state is unreachable. Returns the problems.
 */
export function checkWorkflow(definition: StateMachineDefinition, compensationState: string): string[] {
  const problems: string[] = [];
  const states = definition.States;
  if (!states[compensationState]) problems.push(`compensation state ${compensationState} is missing`);

  for (const [name, state] of Object.entries(states)) {
    if (state.Type !== "Task") continue;
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
    .filter(([, s]) => s.Resource === CALLBACK_RESOURCE)
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
