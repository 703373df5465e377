/**
 * Small helpers shared by the rule modules. Nothing here registers or serves anything: rule
 * modules only export policies, and `../index.ts` alone starts the policy pack.
 *
 * Unknown values: during `pulumi preview`, properties computed from resources that do not exist
 * yet are unknown. The engine hands rules a proxy that throws `UnknownValueError` when such a
 * property is read, and reports the rule as an advisory "can't run ... during preview" instead of
 * a pass or a failure; on `pulumi up` the rule runs again with the real values. The helpers below
 * never catch that error (so a rule cannot pass silently because a value was unknown), and they
 * decide without the value where they can (e.g. a reference found through the engine's property
 * dependencies needs no ARN).
 */
import * as aws from "@pulumi/aws";
import { EnforcementLevel, PolicyResource, UnknownValueError } from "@pulumi/policy";

/** Every rule blocks the deployment unless the stack's policy config lowers it. */
export const DEFAULT_ENFORCEMENT: EnforcementLevel = "mandatory";

/** A rule's config: the engine's values over the schema defaults (the CLI fills defaults too). */
export function configWithDefaults<T extends object>(
  args: { getConfig<U extends object>(): U },
  defaults: T,
): T {
  return { ...defaults, ...args.getConfig<Partial<T>>() };
}

export function isNonEmptyString(value: unknown): value is string {
  return typeof value === "string" && value.trim().length > 0;
}

/** AWS-managed keys (alias/aws/sqs, alias/aws/sns, ...) are not customer-managed keys. */
export function isAwsManagedKeyRef(value: string): boolean {
  return /(^|:)alias\/aws\//.test(value);
}

/**
 * Describes why `value` is not a customer-managed key reference, or undefined when it is one.
 * `property` names the argument in the message.
 */
export function cmkProblem(value: unknown, property: string): string | undefined {
  if (!isNonEmptyString(value)) return `${property} is not set`;
  if (isAwsManagedKeyRef(value)) return `${property} is the AWS-managed key ${value}`;
  return undefined;
}

/** `x`, `[x, y]` or nothing, as an array. */
export function asArray<T>(value: T | T[] | undefined | null): T[] {
  if (value === undefined || value === null) return [];
  return Array.isArray(value) ? value : [value];
}

/**
 * A JSON document given either as a JSON string (what the engine usually receives) or as an
 * object. Reading an unknown document throws `UnknownValueError` (left to the engine); a
 * malformed one is returned as an error message for the rule to report.
 */
export function parseJsonDocument(value: unknown): { doc: Record<string, unknown> } | { error: string } {
  // Serialise outside the try: an unknown value must reach the engine, not the catch below.
  const text = typeof value === "string" ? value : JSON.stringify(value);
  if (text === undefined) return { error: "the document is empty" };
  try {
    const parsed: unknown = JSON.parse(text);
    if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) {
      return { error: "the document is not a JSON object" };
    }
    return { doc: parsed as Record<string, unknown> };
  } catch (e) {
    return { error: `the document is not valid JSON (${(e as Error).message})` };
  }
}

/**
 * The resources among `candidates` that `resource.props[prop]` refers to. Uses the engine's
 * property dependencies first (known even during a preview), then compares the value with each
 * candidate's `outputKeys`. If nothing matches and a compared value was unknown, the answer is
 * undecidable: the first `UnknownValueError` is rethrown so the engine reports an advisory.
 */
export function referencedResources(
  resource: PolicyResource,
  prop: string,
  candidates: PolicyResource[],
  outputKeys: string[],
): PolicyResource[] {
  const candidateSet = new Set(candidates);
  const deps = (resource.propertyDependencies[prop] ?? []).filter((d) => candidateSet.has(d));
  if (deps.length > 0) return deps;

  const value = resource.props[prop];
  const wanted = asArray(value as string | string[] | undefined).filter(isNonEmptyString);
  if (wanted.length === 0) return [];
  return matchByValue(wanted, candidates, outputKeys);
}

/** Candidates whose `outputKeys` values equal one of `wanted`; see `referencedResources`. */
export function matchByValue(
  wanted: string[],
  candidates: PolicyResource[],
  outputKeys: string[],
): PolicyResource[] {
  let firstUnknown: UnknownValueError | undefined;
  const matches = candidates.filter((candidate) =>
    outputKeys.some((key) => {
      try {
        const v = candidate.props[key];
        return typeof v === "string" && wanted.includes(v);
      } catch (e) {
        if (e instanceof UnknownValueError) {
          firstUnknown ??= e;
          return false;
        }
        throw e;
      }
    }),
  );
  if (matches.length === 0 && firstUnknown) throw firstUnknown;
  return matches;
}

/** `Type 'name'` (the type token's last segment and the resource name), for messages. */
export function describe(resource: { name: string; type: string }): string {
  return `${resource.type.split(":").pop()} '${resource.name}'`;
}

/** What a resource attaches as AWS/customer-managed IAM policies. */
export interface ManagedPolicyAttachment {
  /** The attached policy ARNs (read on call: during a preview they may be unknown). */
  policyArns(): unknown[];
  /** The property naming the role(s) it attaches to; undefined for roles themselves, users and groups. */
  roleProperty?: "role" | "roleName" | "roles";
}

/**
 * The managed policies a resource attaches: a policy attachment (role, user, group, generic,
 * exclusive) or a role's own `managedPolicyArns`; undefined for any other resource. `r` is a
 * resource being validated (`ResourceValidationArgs`) or one of a stack's `PolicyResource`s.
 */
export function managedPolicyAttachment(
  r: Pick<PolicyResource, "asType">,
): ManagedPolicyAttachment | undefined {
  const toRole = r.asType(aws.iam.RolePolicyAttachment);
  if (toRole) return { policyArns: () => [toRole.policyArn], roleProperty: "role" };
  const exclusive = r.asType(aws.iam.RolePolicyAttachmentsExclusive);
  if (exclusive) return { policyArns: () => asArray(exclusive.policyArns), roleProperty: "roleName" };
  const generic = r.asType(aws.iam.PolicyAttachment);
  if (generic) return { policyArns: () => [generic.policyArn], roleProperty: "roles" };
  const single = r.asType(aws.iam.UserPolicyAttachment) ?? r.asType(aws.iam.GroupPolicyAttachment);
  if (single) return { policyArns: () => [single.policyArn] };
  const role = r.asType(aws.iam.Role);
  if (role) return { policyArns: () => asArray(role.managedPolicyArns) };
  return undefined;
}

/** A managed policy's name: the last segment of its ARN. */
export function managedPolicyName(arn: string): string {
  return arn.split("/").pop() ?? arn;
}

/** Whether a managed policy's name matches one of `patterns` (case-insensitive regular expressions). */
export function isBroadManagedPolicy(arn: string, patterns: string[]): boolean {
  const name = managedPolicyName(arn);
  return patterns.some((p) => new RegExp(p, "i").test(name));
}
