/**
 * Resource-based policies, wherever they appear: SQS queue and QueuePolicy, SNS topic and
 * TopicPolicy, KMS key and KeyPolicy, API Gateway RestApi and RestApiPolicy, EventBridge bus
 * policies and permissions, CloudWatch Logs resource policies, S3 bucket policies, and Lambda
 * permissions (read as the statement Lambda adds). Checkov CKV_AWS_168/169/33/301/364/72,
 * Security Hub SQS.3, SNS.4, Lambda.1, KMS.5, cfn-nag F18/F20/F21 and their NotPrincipal variants.
 */
import * as aws from "@pulumi/aws";
import { PolicyConfigSchema, ResourceValidationPolicy, Severity } from "@pulumi/policy";
import {
  accountOf,
  actionsOf,
  arnWildcardProblem,
  isPublicPrincipal,
  isWildcardAction,
  Principal,
  principalsOf,
  ResourcePolicy,
  resourcePolicies,
  restrictingConditions,
  Statement,
  StatementCheck,
  statementRule,
  stringsOf,
} from "./documents";
import { expandActions } from "./iamActions";
import { DEFAULT_ENFORCEMENT, isNonEmptyString } from "./util";

/** What a resource-policy rule's check gets besides its config. */
interface ResourceContext {
  kind: ResourcePolicy["kind"];
  ownAccounts: () => Set<string>;
}

/** The accounts a policy's own resource lives in: from its ARNs (read lazily), plus `trustedAccountIds`. */
function ownAccountsOf(policy: ResourcePolicy, statements: Statement[], trusted: string[]): Set<string> {
  const accounts = new Set(trusted);
  for (const ref of policy.ownReferences()) {
    if (!isNonEmptyString(ref)) continue;
    const account = accountOf(ref) ?? /^https:\/\/sqs\.[^/]+\/(\d{12})\//.exec(ref)?.[1];
    if (account) accounts.add(account);
  }
  // Else the policy's Resource, which names the resource itself (a queue policy names its queue);
  // only as a fallback, since a statement could name any account there.
  if (accounts.size > trusted.length) return accounts;
  for (const s of statements)
    for (const r of stringsOf(s.Resource)) {
      const account = accountOf(r);
      if (account) accounts.add(account);
    }
  return accounts;
}

const TRUSTED_SCHEMA: PolicyConfigSchema["properties"] = {
  trustedAccountIds: {
    type: "array",
    items: { type: "string", pattern: "^[0-9]{12}$" },
    default: [],
    description: "Accounts (12 digits) besides the resource's own that resource policies may name.",
  },
};

/** A rule over every Allow statement of every resource-based policy (and Lambda/EventBridge permission). */
function resourceStatementRule<C extends { trustedAccountIds: string[] }>(
  name: string,
  description: string,
  severity: Severity,
  check: StatementCheck<C, ResourceContext>,
  defaults: C,
  schema: PolicyConfigSchema["properties"],
): ResourceValidationPolicy {
  return statementRule(name, description, severity, check, {
    documents: resourcePolicies,
    allowOnly: true,
    defaults,
    schema: { ...TRUSTED_SCHEMA, ...schema },
    context: (policy, statements, config) => {
      let own: Set<string> | undefined;
      return {
        kind: policy.kind,
        ownAccounts: () => (own ??= ownAccountsOf(policy, statements, config.trustedAccountIds)),
      };
    },
  });
}

const NO_CONFIG = { trustedAccountIds: [] as string[] };

const describePrincipal = (p: Principal) => (p.kind === "*" ? '"*"' : `${p.kind} ${p.value}`);

export const resourcePolicyNoPublicAccess = resourceStatementRule(
  "resource-policy-no-public-access",
  'Resource policies (queue, topic, key, API, event bus, bucket, Lambda permission) must not allow everyone: name the principals, or restrict a "*" principal with aws:SourceArn, aws:SourceAccount or aws:PrincipalOrgID (not ...IfExists, not a wildcard value).',
  "critical",
  (s, where, report) => {
    if (s.NotPrincipal !== undefined) {
      report(`${where} allows NotPrincipal: everyone but the listed principals.`);
      return;
    }
    const open = principalsOf(s.Principal).filter(isPublicPrincipal);
    if (open.length === 0) return;
    if (restrictingConditions(s.Condition).length > 0) return;
    report(
      `${where} allows ${open.map(describePrincipal).join(", ")} with no condition that restricts the caller.`,
    );
  },
  NO_CONFIG,
  {},
);

export const resourcePolicyNoForeignAccounts = resourceStatementRule(
  "resource-policy-no-foreign-accounts",
  "Resource policies must not grant to accounts other than the resource's own (or users outside IAM: Federated, CanonicalUser): list a partner account in trustedAccountIds on purpose.",
  "high",
  (s, where, report, { ownAccounts }) => {
    for (const p of principalsOf(s.Principal)) {
      if (p.kind === "*" || p.kind === "Service" || isPublicPrincipal(p)) continue; // other rules
      if (p.kind === "Federated" || p.kind === "CanonicalUser") {
        report(`${where} grants to a ${p.kind} principal (${p.value}).`);
        continue;
      }
      const account = accountOf(p.value);
      if (!account) {
        report(`${where} names ${p.value}, which is not an account or an IAM ARN.`);
        continue;
      }
      const own = ownAccounts();
      if (own.size === 0) {
        report(
          `${where} grants to account ${account}, and the resource's own account is not known: list it in trustedAccountIds.`,
        );
      } else if (!own.has(account)) {
        report(`${where} grants to account ${account}, not the resource's own (${[...own].join(", ")}).`);
      }
    }
  },
  NO_CONFIG,
  {},
);

/** service-principal-source-condition's config defaults. */
const SOURCE_DEFAULTS = {
  trustedAccountIds: [] as string[],
  exemptServices: [] as string[],
  /** Keys that also tie a service's use of a key to this account's resources. */
  extraConditionKeys: ["kms:encryptioncontext:aws:logs:arn", "kms:viaservice"],
};

export const resourcePolicyServiceSourceCondition = resourceStatementRule(
  "resource-policy-service-source-condition",
  "A resource policy (or Lambda permission) that lets an AWS service in must name the source: add aws:SourceArn (the one API, rule, topic or bucket) or aws:SourceAccount, so another account's resource cannot use the service against it (confused deputy).",
  "high",
  (s, where, report, { config }) => {
    const services = principalsOf(s.Principal).filter((p) => p.kind === "Service");
    const exempt = new Set(config.exemptServices);
    const unguarded = services.filter((p) => !exempt.has(p.value));
    if (unguarded.length === 0) return;
    const keys = [
      ...config.extraConditionKeys.map((k) => k.toLowerCase()),
      "aws:sourcearn",
      "aws:sourceaccount",
      "aws:sourceowner",
      "aws:sourceorgid",
    ];
    if (restrictingConditions(s.Condition, keys).length > 0) return;
    report(
      `${where} lets ${unguarded.map((p) => p.value).join(", ")} in without aws:SourceArn or aws:SourceAccount.`,
    );
  },
  SOURCE_DEFAULTS,
  {
    exemptServices: {
      type: "array",
      items: { type: "string" },
      default: SOURCE_DEFAULTS.exemptServices,
      description: "Service principals that need no source condition (for services that send none).",
    },
    extraConditionKeys: {
      type: "array",
      items: { type: "string" },
      default: SOURCE_DEFAULTS.extraConditionKeys,
      description: "Condition keys that also count as naming the source (lower case).",
    },
  },
);

/** Actions a Lambda permission may grant: invoking, not managing the function. */
const LAMBDA_PERMISSION_ACTIONS = ["lambda:invokefunction", "lambda:invokefunctionurl", "lambda:invokeasync"];

export const resourcePolicyLeastPrivilegeActions = resourceStatementRule(
  "resource-policy-least-privilege-actions",
  'Resource policies must grant named actions: no "*" or "service:*" (except to the own account root, as a key policy\'s default statement does), no NotAction/NotResource with Allow, no permissions-management actions (sqs:AddPermission, kms:PutKeyPolicy, ...) to others, and a Lambda permission only lambda:InvokeFunction: list the actions the principal needs.',
  "high",
  async (s, where, report, { ownAccounts, kind }) => {
    if (s.NotAction !== undefined) report(`${where} is an Allow with NotAction.`);
    if (s.NotResource !== undefined) report(`${where} is an Allow with NotResource.`);
    const principals = principalsOf(s.Principal);
    const ownRoot = (p: Principal) =>
      p.kind === "AWS" &&
      (/^\d{12}$/.test(p.value) || /^arn:[^:]+:iam::\d{12}:root$/.test(p.value)) &&
      ownAccounts().has(accountOf(p.value) ?? "");
    if (principals.length > 0 && principals.every(ownRoot)) return; // the account delegates to its IAM policies
    const actions = actionsOf(s);
    for (const action of actions) {
      if (isWildcardAction(action)) report(`${where} allows ${action}.`);
    }
    const granted = await expandActions(actions);
    const management = [...granted]
      .filter(([, level]) => level.includes("Permissions management"))
      .map(([a]) => a);
    if (management.length > 0)
      report(`${where} grants permissions management (${management.slice(0, 4).join(", ")}).`);
    if (kind === "lambda-permission") {
      const other = actions.filter((a) => !LAMBDA_PERMISSION_ACTIONS.includes(a.toLowerCase()));
      if (other.length > 0) report(`${where} grants ${other.join(", ")}; use lambda:InvokeFunction.`);
    }
  },
  NO_CONFIG,
  {},
);

/**
 * The source ARN of a Lambda permission: one API (any stage/method/path of it), one rule, one
 * topic, one bucket, in a named region and account. `arn:aws:execute-api:*:*:*` or `rule/*` lets
 * any API or rule (in any account, for a wildcard account) invoke the function.
 */
export const lambdaPermissionSourceArnScoped: ResourceValidationPolicy = {
  name: "lambda-permission-source-arn-scoped",
  description:
    "A Lambda permission's sourceArn must name one source: no wildcard in its region, account or resource name (the API id, rule, topic or bucket; stage, method and path of one API may be *); set sourceArn to that resource's ARN.",
  enforcementLevel: DEFAULT_ENFORCEMENT,
  severity: "high",
  validateResource: async (args, reportViolation) => {
    const permission = args.asType(aws.lambda.Permission);
    if (!permission) return args.notApplicable("only Lambda permissions have a sourceArn");
    const sourceArn = permission.sourceArn;
    if (!isNonEmptyString(sourceArn)) return; // resource-policy-service-source-condition
    const problem = await arnWildcardProblem(sourceArn);
    if (problem) reportViolation(`sourceArn ${sourceArn}: ${problem}.`);
  },
};

export const resourcePolicyPolicies = [
  resourcePolicyNoPublicAccess,
  resourcePolicyNoForeignAccounts,
  resourcePolicyServiceSourceCondition,
  resourcePolicyLeastPrivilegeActions,
  lambdaPermissionSourceArnScoped,
];
