/**
 * Plaintext secrets in inputs that end up readable by anyone with read access to the resource's
 * configuration (and in the Pulumi state): Lambda environment variables (Checkov CKV_AWS_45),
 * API Gateway stage variables, Step Functions definitions, EventBridge target inputs, API
 * Gateway integration parameters and SSM String parameters (Checkov CKV_AWS_337's intent). Found by
 * name (PASSWORD, API_KEY, CLIENT_SECRET, ... with a literal value) and by value (AWS access key
 * ids, private keys, Stripe/Slack/GitHub/GitLab/Google tokens, JWTs, credentials in URLs), as
 * Checkov's secrets framework and detect-secrets do.
 */
import * as aws from "@pulumi/aws";
import { ResourceValidationArgs, ResourceValidationPolicy } from "@pulumi/policy";
import { configWithDefaults, DEFAULT_ENFORCEMENT, isNonEmptyString } from "./util";

/** Value patterns: what a leaked credential looks like, whatever its name. */
const SECRET_VALUE_PATTERNS: [string, RegExp][] = [
  ["an AWS access key id", /\b(?:A3T[A-Z0-9]|AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AROA)[A-Z0-9]{16}\b/],
  ["a private key", /-----BEGIN (?:[A-Z]+ )?PRIVATE KEY-----/],
  ["a Stripe key", /\b[rs]k_(?:live|test)_[0-9A-Za-z]{16,}/],
  ["a Slack token", /\bxox[abposr]-[0-9A-Za-z-]{10,}/],
  ["a GitHub token", /\b(?:gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{30,})/],
  ["a GitLab token", /\bglpat-[0-9A-Za-z_-]{20,}/],
  ["a Google API key", /\bAIza[0-9A-Za-z_-]{35}/],
  ["a JWT", /\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}/],
  ["a password in a URL", /\b[a-z][a-z0-9+.-]*:\/\/[^/\s:@]+:[^/\s@]+@/i],
  ["an Authorization header value", /\b(?:Basic [A-Za-z0-9+/]{12,}={0,2}|Bearer [A-Za-z0-9._~+/-]{16,})/],
];

const SECRET_WORDS = [
  "secret",
  "password",
  "passwd",
  "pwd",
  "passphrase",
  "token",
  "apikey",
  "credential",
  "credentials",
  "privatekey",
  "accesskey",
  "secretkey",
  "clientsecret",
];
const SECRET_PAIRS = [
  "api key",
  "private key",
  "access key",
  "secret key",
  "client secret",
  "auth token",
  "signing key",
  "encryption key",
  "master key",
];

/** `STRIPE_SECRET_KEY`, `dbPassword`, `api-key` -> lower-case words. */
function words(name: string): string[] {
  return name
    .replace(/([a-z0-9])([A-Z])/g, "$1 $2")
    .split(/[^A-Za-z0-9]+/)
    .filter(Boolean)
    .map((w) => w.toLowerCase());
}

/** Whether a name says its value is a secret: it ends in a secret word (`DB_PASSWORD`, not `TOKEN_TABLE`). */
function isSecretName(name: string): boolean {
  const w = words(name);
  if (w.length === 0) return false;
  const last = w[w.length - 1];
  const lastTwo = w.slice(-2).join(" ");
  return (
    SECRET_WORDS.includes(last) ||
    SECRET_PAIRS.includes(lastTwo) ||
    SECRET_WORDS.includes(w.slice(-2).join(""))
  );
}

/** A value that points at a secret instead of holding it (an ARN, a parameter name, a dynamic reference). */
function isReference(value: string): boolean {
  return /^(arn:|\{\{resolve:|\$|\/|ssm:|secretsmanager:|https?:\/\/[^@]*$)/.test(value);
}

/** Why `value` (named `name`, when it has one) looks like a plaintext secret, or undefined. */
function secretProblem(name: string | undefined, value: unknown, allowedNames: string[]): string | undefined {
  if (typeof value !== "string" || value.length === 0) return undefined;
  if (name !== undefined && allowedNames.includes(name)) return undefined;
  for (const [what, re] of SECRET_VALUE_PATTERNS) if (re.test(value)) return `holds ${what}`;
  if (
    name !== undefined &&
    isSecretName(name) &&
    value.trim().length >= 6 &&
    !isReference(value.trim()) &&
    !/^(true|false|\d+)$/i.test(value.trim())
  ) {
    return "is named like a secret and holds a literal value";
  }
  return undefined;
}

/** Every (name, string value) in a JSON-like value, names being the nearest object key. */
function* stringsIn(value: unknown, name?: string): Generator<[string | undefined, string]> {
  if (typeof value === "string") {
    // A JSON document inside a string (a definition, a target input) is searched field by field.
    let parsed: unknown;
    try {
      parsed = /^\s*[{[]/.test(value) ? JSON.parse(value) : undefined;
    } catch {
      parsed = undefined; // not JSON: searched as text
    }
    if (parsed !== undefined) yield* stringsIn(parsed, name);
    else yield [name, value];
  } else if (Array.isArray(value)) {
    for (const v of value) yield* stringsIn(v, name);
  } else if (value && typeof value === "object") {
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
      // ASL: the value of "taskToken.$" is a path into the input, not a literal: judged by value only.
      yield* stringsIn(v, k.endsWith(".$") ? undefined : k);
    }
  }
}

/** What each resource type carries that a secret could be pasted into. */
function inputsOf(args: ResourceValidationArgs): [string, unknown][] | undefined {
  const fn = args.asType(aws.lambda.Function);
  if (fn) return [["environment.variables", fn.environment?.variables]];
  const stage = args.asType(aws.apigateway.Stage);
  if (stage) return [["variables", stage.variables]];
  const sm = args.asType(aws.sfn.StateMachine);
  if (sm) return [["definition", sm.definition]];
  const target = args.asType(aws.cloudwatch.EventTarget);
  if (target)
    return [
      ["input", target.input],
      ["httpTarget", target.httpTarget],
    ];
  const integration = args.asType(aws.apigateway.Integration);
  if (integration)
    return [
      ["requestParameters", integration.requestParameters],
      ["requestTemplates", integration.requestTemplates],
    ];
  return undefined;
}

const SECRET_DEFAULTS = { allowedNames: [] as string[] };

export const noPlaintextSecrets: ResourceValidationPolicy = {
  name: "no-plaintext-secrets",
  description:
    "Secrets must not be written into Lambda environment variables, stage variables, state machine definitions, event inputs, integration parameters or String SSM parameters: put them in Secrets Manager (or a SecureString parameter) and pass its ARN or name.",
  enforcementLevel: DEFAULT_ENFORCEMENT,
  severity: "critical",
  configSchema: {
    properties: {
      allowedNames: {
        type: "array",
        items: { type: "string" },
        default: SECRET_DEFAULTS.allowedNames,
        description: "Variable or field names whose values are known not to be secrets.",
      },
    },
  },
  validateResource: (args, reportViolation) => {
    const { allowedNames } = configWithDefaults(args, SECRET_DEFAULTS);
    const parameter = args.asType(aws.ssm.Parameter);
    if (parameter) {
      if (
        parameter.type !== "SecureString" &&
        isNonEmptyString(parameter.name) &&
        isSecretName(parameter.name)
      )
        reportViolation(
          `SSM parameter ${parameter.name} is named like a secret but its type is ${parameter.type}: use SecureString.`,
        );
      const problem = secretProblem(undefined, parameter.value, allowedNames);
      if (problem && parameter.type !== "SecureString") reportViolation(`its value ${problem}.`);
      return;
    }
    const inputs = inputsOf(args);
    if (!inputs) return args.notApplicable("the resource type carries no free-form configuration");
    for (const [where, value] of inputs) {
      for (const [name, text] of stringsIn(value)) {
        const problem = secretProblem(name, text, allowedNames);
        if (problem) reportViolation(`${where}${name ? ` ${name}` : ""} ${problem}.`);
      }
    }
  },
};

export const secretPolicies = [noPlaintextSecrets];
