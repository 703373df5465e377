/**
 * Runs CrossGuard rules the way the Pulumi engine does (there is no official test harness), after
 * @pulumi/policy 1.21's server.js (makeAnalyzeRpcFun / makeAnalyzeStackRpcFun / isTypeOf /
 * makeGetConfigFun) and the CLI's handling of policy config:
 *
 * - enforcement level: the stack's config for the rule, else the rule's, else the pack's
 *   (default advisory); `disabled` skips the rule, `remediate` reports as mandatory.
 * - the fast type filter (`__pulumiType` on a single validateResource / validateStack).
 * - `isType` / `asType` by Pulumi type token (or `isInstance` for classes without one).
 * - `getConfig()`: the schema's defaults overlaid with the stack's config, validated against the
 *   schema (the CLI rejects bad config before the pack runs); `enforcementLevel` is removed.
 * - `notApplicable(reason)`: recorded, not a violation.
 * - unknown values: props are wrapped in @pulumi/policy's own `unknownCheckingProxy`; reading a
 *   value that is unknown during preview (see `UNKNOWN`) throws `UnknownValueError`, which the
 *   engine turns into an advisory "can't run policy ... during preview" diagnostic. Any other
 *   exception fails the whole analysis (the CLI reports an error): the harness rethrows it.
 * - props are a fresh deep copy per validation, so one rule cannot change what the next sees.
 */
import { createRequire } from "module";
import {
  EnforcementLevel,
  Policies,
  PolicyConfigSchema,
  PolicyResource,
  PolicyResourceOptions,
  ResourceValidationArgs,
  ResourceValidationPolicy,
  StackValidationArgs,
  StackValidationPolicy,
  unknownCheckingProxy,
  UnknownValueError,
  PolicyConfigJSONSchema,
} from "../../policies/rules/sdk";
import type { RegisteredResource } from "../../program/mocks";

// The sentinels are internal to @pulumi/policy (proxy.js exports them, its .d.ts does not). Load
// them from the copy the rules use (resolved from policies/rules/), like everything above.
const sentinels = createRequire(require.resolve("../../policies/rules/sdk"))(
  "@pulumi/policy/proxy",
) as Record<string, string>;

/** What a property looks like during a preview when it depends on a resource not yet created. */
export const UNKNOWN = {
  string: sentinels.unknownStringValue,
  number: sentinels.unknownNumberValue,
  boolean: sentinels.unknownBooleanValue,
  array: sentinels.unknownArrayValue,
  object: sentinels.unknownObjectValue,
} as const;

export type PolicyPackConfig = Record<
  string,
  EnforcementLevel | ({ enforcementLevel?: EnforcementLevel } & Record<string, unknown>)
>;

/** A resource as a test describes it; URNs default from type and name. */
export interface TestResource {
  type: string;
  name: string;
  props: Record<string, unknown>;
  urn?: string;
  /** URN of the parent. */
  parent?: string;
  /** URNs this resource depends on. */
  dependencies?: string[];
  /** Property name -> URNs the property's value came from (as the engine sends them). */
  propertyDependencies?: Record<string, string[]>;
  opts?: Partial<PolicyResourceOptions>;
}

export interface Diagnostic {
  policyName: string;
  /** Violation message as the engine prints it: the description, then the rule's message. */
  message: string;
  /** The rule's own message (what it passed to reportViolation). */
  detail: string;
  enforcementLevel: EnforcementLevel;
  urn?: string;
  /** True for the engine's "can't run ... during preview" advisory. */
  unknown: boolean;
}

export interface NotApplicable {
  policyName: string;
  reason?: string;
  urn?: string;
}

export interface RunResult {
  diagnostics: Diagnostic[];
  notApplicable: NotApplicable[];
}

export interface RunOptions {
  /** The stack's policy config (`--policy-pack-config`), keyed by rule name. */
  config?: PolicyPackConfig;
  /** The pack's enforcement level (`new PolicyPack(..., { enforcementLevel })`). */
  packEnforcementLevel?: EnforcementLevel;
  stack?: string;
  project?: string;
}

export function urnOf(type: string, name: string, stack = "test", project = "orderflow"): string {
  return `urn:pulumi:${stack}::${project}::${type}::${name}`;
}

class NotApplicableError extends Error {
  constructor(readonly reason?: string) {
    super(reason ?? "Policy does not apply");
  }
}

function throwNotApplicable(reason?: string): never {
  throw new NotApplicableError(reason);
}

function pulumiTypeOf(obj: unknown): string | undefined {
  const t = (obj as { __pulumiType?: unknown } | undefined)?.__pulumiType;
  return typeof t === "string" && t.length > 0 ? t : undefined;
}

function isTypeOf(type: string, resourceClass: unknown): boolean {
  const pulumiType = pulumiTypeOf(resourceClass);
  if (pulumiType) return type === pulumiType;
  const isInstance = (resourceClass as { isInstance?: unknown }).isInstance;
  return typeof isInstance === "function" && isInstance({ __pulumiType: type }) === true;
}

export function isResourcePolicy(
  p: ResourceValidationPolicy | StackValidationPolicy,
): p is ResourceValidationPolicy {
  return typeof (p as StackValidationPolicy).validateStack !== "function";
}

export function isStackPolicy(
  p: ResourceValidationPolicy | StackValidationPolicy,
): p is StackValidationPolicy {
  return typeof (p as StackValidationPolicy).validateStack === "function";
}

function levelOf(p: ResourceValidationPolicy | StackValidationPolicy, options: RunOptions): EnforcementLevel {
  const c = options.config?.[p.name];
  const fromConfig = typeof c === "string" ? c : c?.enforcementLevel;
  const level = fromConfig || p.enforcementLevel || options.packEnforcementLevel || "advisory";
  return level === "remediate" ? "mandatory" : level;
}

/** The config a rule sees: schema defaults, then the stack's values, validated like the CLI does. */
export function resolvedConfig(
  p: { name: string; configSchema?: PolicyConfigSchema },
  config?: PolicyPackConfig,
): Record<string, unknown> {
  const given = config?.[p.name];
  const values: Record<string, unknown> = typeof given === "object" ? { ...given } : {};
  delete values.enforcementLevel;
  const schema = p.configSchema;
  if (!schema) return values;
  const result: Record<string, unknown> = {};
  for (const [key, prop] of Object.entries(schema.properties)) {
    if (typeof prop === "object" && prop.default !== undefined) result[key] = structuredClone(prop.default);
  }
  Object.assign(result, values);
  for (const key of schema.required ?? []) {
    if (result[key] === undefined) throw new Error(`policy ${p.name}: config property ${key} is required`);
  }
  for (const [key, value] of Object.entries(result)) {
    const prop = schema.properties[key];
    if (prop === undefined) continue; // the CLI allows extra properties unless the schema forbids them
    const problem = typeof prop === "object" ? schemaProblem(prop, value) : undefined;
    if (problem) throw new Error(`policy ${p.name}: config property ${key} ${problem}`);
  }
  return result;
}

/** The subset of JSON Schema the rules use: type, items, minimum/maximum, enum. */
function schemaProblem(schema: PolicyConfigJSONSchema, value: unknown): string | undefined {
  const types = schema.type === undefined ? [] : Array.isArray(schema.type) ? schema.type : [schema.type];
  const typeOk = (t: string) =>
    (t === "string" && typeof value === "string") ||
    (t === "number" && typeof value === "number" && Number.isFinite(value)) ||
    (t === "integer" && Number.isInteger(value)) ||
    (t === "boolean" && typeof value === "boolean") ||
    (t === "array" && Array.isArray(value)) ||
    (t === "object" && typeof value === "object" && value !== null && !Array.isArray(value)) ||
    (t === "null" && value === null);
  if (types.length > 0 && !types.some(typeOk))
    return `must be of type ${types.join(" or ")}, got ${JSON.stringify(value)}`;
  if (schema.enum && !schema.enum.some((e) => JSON.stringify(e) === JSON.stringify(value))) {
    return `must be one of ${JSON.stringify(schema.enum)}`;
  }
  if (typeof value === "number") {
    if (schema.minimum !== undefined && value < schema.minimum) return `must be >= ${schema.minimum}`;
    if (schema.maximum !== undefined && value > schema.maximum) return `must be <= ${schema.maximum}`;
  }
  if (
    Array.isArray(value) &&
    schema.items &&
    typeof schema.items === "object" &&
    !Array.isArray(schema.items)
  ) {
    for (const item of value) {
      const problem = schemaProblem(schema.items, item);
      if (problem) return `item ${problem}`;
    }
  }
  return undefined;
}

function defaultOpts(parent?: string, opts?: Partial<PolicyResourceOptions>): PolicyResourceOptions {
  return {
    protect: false,
    ignoreChanges: [],
    aliases: [],
    customTimeouts: { createSeconds: 0, updateSeconds: 0, deleteSeconds: 0 },
    additionalSecretOutputs: [],
    ...(parent ? { parent } : {}),
    ...opts,
  };
}

function withUrn(r: TestResource, options: RunOptions): TestResource & { urn: string } {
  return { ...r, urn: r.urn ?? urnOf(r.type, r.name, options.stack, options.project) };
}

function reporter(
  p: { name: string; description: string },
  level: EnforcementLevel,
  diagnostics: Diagnostic[],
  resourceUrn?: string,
) {
  return (message: string, urn?: string): void => {
    diagnostics.push({
      policyName: p.name,
      message: message ? `${p.description}\n${message}` : p.description,
      detail: message,
      enforcementLevel: level,
      // A resource policy's violation is always about the resource being validated.
      urn: resourceUrn ?? urn,
      unknown: false,
    });
  };
}

function handleError(
  e: unknown,
  p: { name: string; description: string },
  result: RunResult,
  urn: string | undefined,
): void {
  // @pulumi/policy's typings strip UnknownValueError's members (@internal); the class is real.
  if (e instanceof UnknownValueError) {
    const { message } = e as Error;
    result.diagnostics.push({
      policyName: p.name,
      message: `can't run policy '${p.name}' during preview: ${message}`,
      detail: message,
      enforcementLevel: "advisory",
      urn,
      unknown: true,
    });
  } else if (e instanceof NotApplicableError) {
    result.notApplicable.push({ policyName: p.name, reason: e.reason, urn });
  } else {
    const err = e instanceof Error ? e : new Error(String(e));
    err.message = `Error validating resource with policy '${p.name}': ${err.message}`;
    throw err;
  }
}

/** Runs one resource policy on one resource, as the engine's `analyze` call does. */
export async function runResourcePolicy(
  p: ResourceValidationPolicy,
  resource: TestResource,
  options: RunOptions = {},
): Promise<RunResult> {
  const result: RunResult = { diagnostics: [], notApplicable: [] };
  const level = levelOf(p, options);
  if (level === "disabled" || !p.validateResource) return result;
  const r = withUrn(resource, options);
  if (!Array.isArray(p.validateResource)) {
    const pulumiType = pulumiTypeOf(p.validateResource);
    if (pulumiType && r.type !== pulumiType) {
      result.notApplicable.push({
        policyName: p.name,
        reason: `Policy only applies to resources of type '${pulumiType}'`,
        urn: r.urn,
      });
      return result;
    }
  }
  const config = resolvedConfig(p, options.config);
  const validations = Array.isArray(p.validateResource) ? p.validateResource : [p.validateResource];
  for (const validation of validations) {
    try {
      const props = unknownCheckingProxy(structuredClone(r.props)) as Record<string, unknown>;
      const args: ResourceValidationArgs = {
        type: r.type,
        props,
        urn: r.urn,
        name: r.name,
        opts: defaultOpts(r.parent, r.opts),
        stackTags: new Map(),
        isType: (cls) => isTypeOf(r.type, cls),
        asType: ((cls: unknown) =>
          isTypeOf(r.type, cls) ? props : undefined) as ResourceValidationArgs["asType"],
        getConfig: <T extends object>() => structuredClone(config) as T,
        notApplicable: throwNotApplicable,
      };
      await Promise.resolve(validation(args, reporter(p, level, result.diagnostics, r.urn)));
    } catch (e) {
      handleError(e, p, result, r.urn);
    }
  }
  return result;
}

/** Builds the engine's view of a stack: proxied props, parents and dependencies as objects. */
export function policyResources(resources: TestResource[], options: RunOptions = {}): PolicyResource[] {
  const withUrns = resources.map((r) => withUrn(r, options));
  const byUrn = new Map<string, PolicyResource>();
  const built = withUrns.map((r) => {
    const props = unknownCheckingProxy(structuredClone(r.props)) as Record<string, unknown>;
    const resource: PolicyResource = {
      type: r.type,
      props,
      urn: r.urn,
      name: r.name,
      opts: defaultOpts(r.parent, r.opts),
      dependencies: [],
      propertyDependencies: {},
      isType: (cls) => isTypeOf(r.type, cls),
      asType: ((cls: unknown) => (isTypeOf(r.type, cls) ? props : undefined)) as PolicyResource["asType"],
    };
    byUrn.set(r.urn, resource);
    return resource;
  });
  withUrns.forEach((r, i) => {
    const resource = built[i];
    if (r.parent && byUrn.has(r.parent)) resource.parent = byUrn.get(r.parent);
    resource.dependencies = (r.dependencies ?? []).flatMap((u) => (byUrn.has(u) ? [byUrn.get(u)!] : []));
    for (const [k, urns] of Object.entries(r.propertyDependencies ?? {})) {
      resource.propertyDependencies[k] = urns.flatMap((u) => (byUrn.has(u) ? [byUrn.get(u)!] : []));
    }
  });
  return built;
}

/** Runs one stack policy, as the engine's `analyzeStack` call does. */
export async function runStackPolicy(
  p: StackValidationPolicy,
  resources: TestResource[],
  options: RunOptions = {},
): Promise<RunResult> {
  const result: RunResult = { diagnostics: [], notApplicable: [] };
  const level = levelOf(p, options);
  if (level === "disabled") return result;
  const pulumiType = pulumiTypeOf(p.validateStack);
  if (pulumiType && !resources.some((r) => r.type === pulumiType)) {
    result.notApplicable.push({
      policyName: p.name,
      reason: `Policy only applies to resources of type '${pulumiType}'`,
    });
    return result;
  }
  const config = resolvedConfig(p, options.config);
  try {
    const args: StackValidationArgs = {
      resources: policyResources(resources, options),
      stackTags: new Map(),
      getConfig: <T extends object>() => structuredClone(config) as T,
      notApplicable: throwNotApplicable,
    };
    await Promise.resolve(p.validateStack(args, reporter(p, level, result.diagnostics)));
  } catch (e) {
    handleError(e, p, result, undefined);
  }
  return result;
}

/** Runs a policy on one resource (resource policy) or on the stack (stack policy). */
export function runPolicy(
  p: ResourceValidationPolicy | StackValidationPolicy,
  subject: TestResource | TestResource[],
  options: RunOptions = {},
): Promise<RunResult> {
  if (isStackPolicy(p)) return runStackPolicy(p, Array.isArray(subject) ? subject : [subject], options);
  if (Array.isArray(subject)) return runPack([p], subject, options);
  return runResourcePolicy(p, subject, options);
}

/** The whole pack over a stack: every resource policy on every resource, then the stack policies. */
export async function runPack(
  policies: Policies,
  resources: TestResource[],
  options: RunOptions = {},
): Promise<RunResult> {
  const all: RunResult = { diagnostics: [], notApplicable: [] };
  const merge = (r: RunResult) => {
    all.diagnostics.push(...r.diagnostics);
    all.notApplicable.push(...r.notApplicable);
  };
  for (const resource of resources) {
    for (const p of policies) if (isResourcePolicy(p)) merge(await runResourcePolicy(p, resource, options));
  }
  for (const p of policies) if (isStackPolicy(p)) merge(await runStackPolicy(p, resources, options));
  return all;
}

/** Diagnostics that block a deployment (mandatory violations). */
export function blocking(result: RunResult): Diagnostic[] {
  return result.diagnostics.filter((d) => d.enforcementLevel === "mandatory");
}

/** Sets the value at `path` ("a.b.0.c") of `props` in place, creating objects on the way; undefined removes it. */
export function setValue(props: Record<string, unknown>, path: string, value: unknown): void {
  const keys = path.split(".");
  let node: Record<string, unknown> = props;
  for (const key of keys.slice(0, -1)) {
    if (node[key] === undefined || node[key] === null || typeof node[key] !== "object") node[key] = {};
    node = node[key] as Record<string, unknown>;
  }
  const last = keys[keys.length - 1];
  if (value === undefined) delete node[last];
  else node[last] = value;
}

/** A deep copy of `props` with the value at `path` set to `value` (see `setValue`). */
export function withValue(
  props: Record<string, unknown>,
  path: string,
  value: unknown,
): Record<string, unknown> {
  const copy = structuredClone(props);
  setValue(copy, path, value);
  return copy;
}

/** The value at `path` ("a.b.0.c") of `props`, or undefined. */
export function valueAt(props: Record<string, unknown>, path: string): unknown {
  return path.split(".").reduce<unknown>((o, k) => (o as Record<string, unknown> | undefined)?.[k], props);
}

/** The unknown-value sentinel of the same kind as `value` (what a preview sends instead of it). */
export function sentinelFor(value: unknown): string {
  return Array.isArray(value)
    ? UNKNOWN.array
    : typeof value === "object" && value !== null
      ? UNKNOWN.object
      : typeof value === "number"
        ? UNKNOWN.number
        : typeof value === "boolean"
          ? UNKNOWN.boolean
          : UNKNOWN.string;
}

/**
 * A resource registered under mocks, as the engine shows it to a rule after an update: inputs
 * overlaid with outputs. Assets and archives (a function's code) become a plain marker, since
 * no rule reads them and they hold promises.
 */
export function fromRegistered(r: RegisteredResource, options: RunOptions = {}): TestResource {
  const plain = (value: unknown): unknown => {
    if (value === null || typeof value !== "object") return typeof value === "function" ? undefined : value;
    const v = value as Record<string, unknown>;
    if (
      v.__pulumiArchive !== undefined ||
      v.__pulumiAsset !== undefined ||
      typeof (v as { then?: unknown }).then === "function"
    ) {
      return "<asset>";
    }
    if (Array.isArray(value)) return value.map(plain);
    return Object.fromEntries(
      Object.entries(v)
        .map(([k, x]) => [k, plain(x)])
        .filter(([, x]) => x !== undefined),
    );
  };
  return {
    type: r.type,
    name: r.name,
    urn: r.urn ?? urnOf(r.type, r.name, options.stack, options.project),
    props: plain({ ...r.inputs, ...r.state }) as Record<string, unknown>,
  };
}

/**
 * The same stack as a first `pulumi preview` sees it: every output (`computedKeys`) unknown, and
 * every input that embeds another resource's output unknown too, with the engine's property
 * dependency on that resource recorded (as the engine does for values built from outputs).
 */
/**
 * Whether `text` contains `output` as a whole value, not as part of a longer name: a queue's ARN
 * is in "<arn>", "<arn>:*" and "<arn>/index/x" (values built from it), not in "<arn>-dlq" (another
 * queue's ARN that merely starts the same).
 */
function embeds(text: string, output: string): boolean {
  const escaped = output.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  return new RegExp(`(?<![\\w.-])${escaped}(?![\\w.-])`).test(text);
}

export function asPreview(resources: TestResource[], computedKeys: string[]): TestResource[] {
  const withUrns = resources.map((r) => ({ ...r, urn: r.urn ?? urnOf(r.type, r.name) }));
  const outputsOf = new Map<string, string[]>();
  for (const r of withUrns) {
    const values = computedKeys
      .map((k) => r.props[k])
      .filter((v): v is string => typeof v === "string" && v.length >= 8);
    outputsOf.set(r.urn, values);
  }
  return withUrns.map((r) => {
    const props: Record<string, unknown> = {};
    const propertyDependencies: Record<string, string[]> = {};
    for (const [key, value] of Object.entries(r.props)) {
      if (computedKeys.includes(key)) {
        props[key] = sentinelFor(value);
        continue;
      }
      const text = JSON.stringify(value) ?? "";
      const sources = withUrns.filter(
        (o) => o.urn !== r.urn && outputsOf.get(o.urn)!.some((v) => embeds(text, v)),
      );
      if (sources.length > 0) {
        props[key] = sentinelFor(value);
        propertyDependencies[key] = sources.map((o) => o.urn);
      } else {
        props[key] = value;
      }
    }
    return { ...r, props, propertyDependencies };
  });
}
