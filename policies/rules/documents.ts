/**
 * IAM policy documents as the rules read them, wherever they appear: identity policies (role
 * inline policies, RolePolicy, Policy, user/group policies) and resource-based policies (queue,
 * topic, key, API, event bus, log and bucket policies, and Lambda / EventBridge permissions, which
 * are one statement given as arguments). A document may be a JSON string, an object, or unknown
 * during a preview (reading it throws UnknownValueError, left to the engine).
 *
 * Helper module: it exports no policies.
 */
import * as aws from "@pulumi/aws";
import {
  PolicyConfigSchema,
  ReportViolation,
  ResourceValidationArgs,
  ResourceValidationPolicy,
  Severity,
} from "@pulumi/policy";
import {
  asArray,
  configWithDefaults,
  DEFAULT_ENFORCEMENT,
  isNonEmptyString,
  parseJsonDocument,
} from "./util";
import { arnPrefixes } from "./iamActions";

export interface Statement {
  Sid?: string;
  Effect?: string;
  Action?: string | string[];
  NotAction?: string | string[];
  Resource?: string | string[];
  NotResource?: string | string[];
  Principal?: unknown;
  NotPrincipal?: unknown;
  Condition?: unknown;
}

/** A document found on a resource: where it sits (for messages) and its raw value. */
export interface FoundDocument {
  where: string;
  value: unknown;
}

export function statementsOf(doc: Record<string, unknown>): Statement[] {
  return asArray(doc.Statement as Statement | Statement[] | undefined).filter(
    (s): s is Statement => typeof s === "object" && s !== null,
  );
}

/** The statements of a policy document (a JSON string or an object), or why it cannot be read. */
export function documentStatements(value: unknown): Statement[] | { error: string } {
  const parsed = parseJsonDocument(value);
  return "error" in parsed ? parsed : statementsOf(parsed.doc);
}

/** `policy statement 'Sid'` or `policy statement #2`, for messages. */
export function label(statement: Statement, index: number, where: string): string {
  return `${where} statement ${isNonEmptyString(statement.Sid) ? `'${statement.Sid}'` : `#${index}`}`;
}

export const isAllow = (s: Statement) => s.Effect === "Allow";
export const stringsOf = (v: unknown): string[] =>
  asArray(v as string | string[] | undefined).filter((x): x is string => typeof x === "string");
export const actionsOf = (s: Statement) => stringsOf(s.Action);

/**
 * `*`, `service:*`, or a service wildcard with every action (`*:*`, `s*:*`): what
 * iam-no-wildcard-actions reports, and what the rules that judge patterns leave to it.
 */
export const isWildcardAction = (action: string) => action === "*" || /^[a-z0-9*?-]+:\*$/i.test(action);
export const resourcesOf = (s: Statement) => stringsOf(s.Resource);

/** A principal entry: `*` (anyone), or a kind (AWS, Service, Federated, CanonicalUser) and a value. */
export interface Principal {
  kind: string;
  value: string;
}

/** The principals of a statement's Principal element. `"*"` is `{ kind: "*", value: "*" }`. */
export function principalsOf(principal: unknown): Principal[] {
  if (principal === undefined || principal === null) return [];
  if (typeof principal === "string") return [{ kind: principal === "*" ? "*" : "AWS", value: principal }];
  if (typeof principal !== "object" || Array.isArray(principal))
    return [{ kind: "?", value: String(principal) }];
  return Object.entries(principal as Record<string, unknown>).flatMap(([kind, values]) =>
    stringsOf(values).map((value) => ({ kind, value })),
  );
}

/** A principal anyone matches: `*`, or a wildcard in an account or ARN (`arn:aws:iam::*:root`). */
export function isPublicPrincipal(p: Principal): boolean {
  return p.kind === "*" || p.value.includes("*") || p.value.includes("?");
}

/** The account an AWS principal or ARN belongs to (`123456789012`, `arn:aws:iam::123456789012:role/x`). */
export function accountOf(value: string): string | undefined {
  if (/^\d{12}$/.test(value)) return value;
  const arn = /^arn:[^:]*:[^:]*:[^:]*:(\d{12}):/.exec(value);
  return arn?.[1];
}

/** A flattened condition: operator (`StringEquals`), key (`aws:SourceArn`) and values. */
export interface ConditionEntry {
  operator: string;
  key: string;
  values: string[];
}

function conditionsOf(condition: unknown): ConditionEntry[] {
  if (!condition || typeof condition !== "object") return [];
  return Object.entries(condition as Record<string, unknown>).flatMap(([operator, block]) =>
    block && typeof block === "object"
      ? Object.entries(block as Record<string, unknown>).map(([key, values]) => ({
          operator,
          key,
          values: asArray(values as unknown).map(String),
        }))
      : [],
  );
}

/**
 * Condition keys that tie a grant to a source or caller (the confused-deputy guards AWS documents:
 * https://docs.aws.amazon.com/IAM/latest/UserGuide/confused-deputy.html). `*IfExists` operators do
 * not count (they pass when the key is absent), nor do values that are only wildcards, nor
 * negated operators (`StringNotEquals` lets everyone else in).
 */
const SOURCE_CONDITION_KEYS = [
  "aws:sourcearn",
  "aws:sourceaccount",
  "aws:sourceowner",
  "aws:sourceorgid",
  "aws:sourceorgpaths",
  "aws:principalorgid",
  "aws:principalorgpaths",
  "aws:principalaccount",
  "aws:principalarn",
  "aws:sourcevpce",
  "aws:sourcevpc",
  "kms:calleraccount",
];

export function restrictingConditions(
  condition: unknown,
  keys: string[] = SOURCE_CONDITION_KEYS,
): ConditionEntry[] {
  return conditionsOf(condition).filter(
    (c) =>
      keys.includes(c.key.toLowerCase()) &&
      !/ifexists$/i.test(c.operator) &&
      !/not/i.test(c.operator.replace(/^ForAllValues:|^ForAnyValue:/, "")) &&
      !/^ForAllValues:/i.test(c.operator) && // ForAllValues passes on an empty set
      c.values.length > 0 &&
      c.values.every(restrictiveValue),
  );
}

/**
 * Whether a condition value names a source rather than matching everyone: an ARN must name its
 * account (`arn:aws:sns:*:*:orders` matches a topic called orders in any account), or, for ARNs
 * without an account (S3 buckets), a name; any other value (an account or org id) no wildcard.
 */
function restrictiveValue(value: string): boolean {
  const arn = /^arn:[^:]*:[^:]*:[^:]*:([^:]*):(.*)$/s.exec(value);
  if (!arn) return value.length > 0 && !/[*?]/.test(value);
  const [, account, resource] = arn;
  if (/^\d{12}$/.test(account)) return true;
  return account === "" && resource.length > 0 && !/^[*?]/.test(resource);
}

/** A policy document found on a resource, as a statementRule reads it. */
export interface PolicyDocument extends FoundDocument {
  /** A policy document, or the one statement a Lambda / EventBridge permission stands for. */
  kind: "document" | "lambda-permission" | "event-permission";
  /** The statements, or why the document cannot be read. */
  statements(): Statement[] | { error: string };
}

/** A resource-based policy found on a resource. */
export interface ResourcePolicy extends PolicyDocument {
  /** ARNs or ids that name the resource itself (to learn its account); read lazily. */
  ownReferences(): unknown[];
}

function fromDocument(where: string, value: unknown, ownReferences: () => unknown[]): ResourcePolicy[] {
  if (value === undefined || value === null || value === "") return [];
  return [
    {
      kind: "document",
      where,
      value,
      ownReferences,
      statements: () => documentStatements(value),
    },
  ];
}

/** The principal of a Lambda / EventBridge permission as a policy Principal element. */
function permissionPrincipal(principal: unknown): unknown {
  if (!isNonEmptyString(principal)) return principal;
  if (principal === "*") return "*";
  return principal.endsWith(".amazonaws.com") || principal.endsWith(".amazonaws.com.cn")
    ? { Service: principal }
    : { AWS: principal };
}

/**
 * The resource-based policies a resource carries, or notApplicable. A Lambda permission is read
 * as the statement Lambda adds to the function's policy (sourceArn -> aws:SourceArn, ...).
 */
export function resourcePolicies(args: ResourceValidationArgs): ResourcePolicy[] {
  const p = args.props;
  const lazy =
    (...keys: string[]) =>
    () =>
      keys.map((k) => p[k]);
  if (args.isType(aws.sqs.Queue) || args.isType(aws.sns.Topic))
    return fromDocument("policy", p.policy, lazy("arn"));
  if (args.isType(aws.kms.Key)) return fromDocument("policy", p.policy, lazy("arn"));
  if (args.isType(aws.sqs.QueuePolicy)) return fromDocument("policy", p.policy, lazy("queueUrl"));
  if (args.isType(aws.sns.TopicPolicy)) return fromDocument("policy", p.policy, lazy("arn"));
  if (args.isType(aws.kms.KeyPolicy)) return fromDocument("policy", p.policy, lazy("keyId"));
  if (args.isType(aws.apigateway.RestApi)) return fromDocument("policy", p.policy, lazy("executionArn"));
  if (args.isType(aws.apigateway.RestApiPolicy)) return fromDocument("policy", p.policy, () => []);
  if (args.isType(aws.cloudwatch.EventBusPolicy)) return fromDocument("policy", p.policy, () => []);
  if (args.isType(aws.cloudwatch.LogResourcePolicy))
    return fromDocument("policyDocument", p.policyDocument, () => []);
  if (args.isType(aws.s3.BucketPolicy)) return fromDocument("policy", p.policy, () => []);
  const permission = args.asType(aws.lambda.Permission);
  if (permission) {
    const condition: Record<string, Record<string, string>> = {};
    const add = (operator: string, key: string, value: unknown) => {
      if (isNonEmptyString(value)) condition[operator] = { ...condition[operator], [key]: value };
    };
    add("ArnLike", "aws:SourceArn", permission.sourceArn);
    add("StringEquals", "aws:SourceAccount", permission.sourceAccount);
    add("StringEquals", "aws:PrincipalOrgID", permission.principalOrgId);
    add("StringEquals", "lambda:FunctionUrlAuthType", permission.functionUrlAuthType);
    const statement: Statement = {
      Effect: "Allow",
      Principal: permissionPrincipal(permission.principal),
      Action: permission.action,
      Resource: String(permission.function),
      Condition: condition,
    };
    return [
      {
        kind: "lambda-permission",
        where: "the permission",
        value: statement,
        statements: () => [statement],
        ownReferences: lazy("function"),
      },
    ];
  }
  const eventPermission = args.asType(aws.cloudwatch.EventPermission);
  if (eventPermission) {
    const c = eventPermission.condition;
    const statement: Statement = {
      Effect: "Allow",
      Principal: permissionPrincipal(eventPermission.principal),
      Action: eventPermission.action ?? "events:PutEvents",
      Condition: c ? { [c.type]: { [c.key]: c.value } } : {},
    };
    return [
      {
        kind: "event-permission",
        where: "the permission",
        value: statement,
        statements: () => [statement],
        ownReferences: () => [],
      },
    ];
  }
  return args.notApplicable("only resources with a resource-based policy (or a permission) are judged");
}

/** The identity-policy documents a resource carries, or notApplicable. */
export function identityDocuments(args: ResourceValidationArgs): PolicyDocument[] {
  const document = (where: string, value: unknown): PolicyDocument => ({
    kind: "document",
    where,
    value,
    statements: () => documentStatements(value),
  });
  const single =
    args.asType(aws.iam.RolePolicy) ??
    args.asType(aws.iam.Policy) ??
    args.asType(aws.iam.UserPolicy) ??
    args.asType(aws.iam.GroupPolicy);
  if (single) return [document("policy", single.policy)];
  const role = args.asType(aws.iam.Role);
  if (role)
    return asArray(role.inlinePolicies).map((p, i) => document(`inlinePolicies[${i}].policy`, p.policy));
  return args.notApplicable("only IAM role, user, group and managed policies carry identity policies");
}

/**
 * The name segment of an ARN (`orders` in `arn:aws:dynamodb:r:a:table/orders/index/x`,
 * `payments` in `arn:aws:sqs:r:a:payments`), i.e. what picks one resource of its type, and what
 * comes before it. Resource-type prefixes come from the ARN formats of the service authorization
 * reference (`table/`, `function:`, `log-group:`, `key/`, ...), given by the caller.
 */
export interface ArnParts {
  partition: string;
  service: string;
  region: string;
  account: string;
  /** The resource-type prefix matched (`table/`), or "" when the service has none (SQS, SNS, S3). */
  prefix: string;
  /** The resource's own name (the first segment after the prefix). */
  name: string;
  /** What follows the name (`/index/*`, `:*`). */
  rest: string;
}

function splitArn(arn: string, prefixes: string[]): ArnParts | undefined {
  const m = /^arn:([^:]*):([^:]*):([^:]*):([^:]*):(.*)$/s.exec(arn);
  if (!m) return undefined;
  const [, partition, service, region, account, resource] = m;
  // Longest known prefix that the resource part starts with (case-sensitive, as ARNs are).
  const prefix =
    prefixes.filter((p) => p && resource.startsWith(p)).sort((a, b) => b.length - a.length)[0] ?? "";
  const after = resource.slice(prefix.length);
  // After `type:` the name runs to the next colon (log group names contain slashes); after
  // `type/` to the next slash; with no prefix (SQS, SNS, S3) to either.
  const end = prefix.endsWith(":")
    ? after.indexOf(":")
    : prefix.endsWith("/")
      ? after.indexOf("/")
      : after.search(/[:/]/);
  const name = end < 0 ? after : after.slice(0, end);
  const rest = end < 0 ? "" : after.slice(end);
  return { partition, service, region, account, prefix, name, rest };
}

/** `arn` split with its service's resource-type prefixes (see splitArn), or undefined if not an ARN. */
export async function parseArn(arn: string): Promise<ArnParts | undefined> {
  const service = /^arn:[^:]*:([^:]*):/.exec(arn)?.[1];
  return service === undefined ? undefined : splitArn(arn, await arnPrefixes(service));
}

/**
 * Why `arn` reaches more than one named resource (a wildcard in its partition, service, region,
 * account or resource name), or undefined. Sub-resources (`table/orders/index/*`) are fine, and
 * so are the empty region and account of S3 ARNs, which are their form, not a wildcard.
 */
export async function arnWildcardProblem(arn: string): Promise<string | undefined> {
  const parts = await parseArn(arn);
  if (!parts) return "it is not an ARN";
  for (const key of ["partition", "service", "region", "account"] as const) {
    if (/[*?]/.test(parts[key])) return `its ${key} is a wildcard`;
  }
  if (/[*?]/.test(parts.prefix) || /[*?]/.test(parts.name) || parts.name === "")
    return `its resource name (${parts.prefix}${parts.name || "<empty>"}) is a wildcard`;
  return undefined;
}

/** Judges one statement; `where` names it in messages (`policy statement 'Sid'`, `the permission`). */
export type StatementCheck<C, X extends object = object> = (
  statement: Statement,
  where: string,
  report: (message: string) => void,
  context: { config: C } & X,
) => void | Promise<void>;

export interface StatementRuleOptions<C extends object, D extends PolicyDocument, X extends object> {
  /** The documents the rule reads on a resource (args.notApplicable where it has none). */
  documents: (args: ResourceValidationArgs) => D[];
  /** What else the check needs about the statement's document (resource policies: own accounts). */
  context?: (document: D, statements: Statement[], config: C) => X;
  /** Judge Allow statements only: most rules judge what is granted, and a Deny grants nothing. */
  allowOnly?: boolean;
  /** The rule's config: `defaults` overlaid with the stack's; `schema` describes it to the CLI. */
  defaults?: C;
  schema?: PolicyConfigSchema["properties"];
}

/**
 * A rule that runs `check` on every statement of every policy document of a resource; a document
 * that cannot be read is a violation.
 */
export function statementRule<
  C extends object = Record<string, never>,
  D extends PolicyDocument = PolicyDocument,
  X extends object = object,
>(
  name: string,
  description: string,
  severity: Severity,
  check: StatementCheck<C, X>,
  options: StatementRuleOptions<C, D, X>,
): ResourceValidationPolicy {
  const { documents, context, allowOnly, defaults, schema } = options;
  return {
    name,
    description,
    enforcementLevel: DEFAULT_ENFORCEMENT,
    severity,
    ...(schema ? { configSchema: { properties: schema } } : {}),
    validateResource: async (args: ResourceValidationArgs, reportViolation: ReportViolation) => {
      const found = documents(args);
      const config = defaults ? configWithDefaults(args, defaults) : ({} as C);
      for (const document of found) {
        const statements = document.statements();
        if ("error" in statements) {
          reportViolation(`${document.where}: ${statements.error}.`);
          continue;
        }
        const extra = context ? context(document, statements, config) : ({} as X);
        for (let i = 0; i < statements.length; i++) {
          const s = statements[i];
          if (allowOnly && !isAllow(s)) continue;
          const where = document.kind === "document" ? label(s, i, document.where) : document.where;
          await check(s, where, (m) => reportViolation(m), { ...extra, config });
        }
      }
    },
  };
}
