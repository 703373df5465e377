/**
 * CloudWatch log groups: encrypted with the customer-managed key (logs carry order ids and
 * customer e-mail addresses) and with a retention, so logs neither live forever nor cost forever.
 * Checkov CKV_AWS_158/CKV_AWS_66, Security Hub CloudWatch.16 (which asks for 365 days: raise
 * `minRetentionDays` to follow it).
 */
import * as aws from "@pulumi/aws";
import { ResourceValidationPolicy, validateResourceOfType } from "@pulumi/policy";
import { cmkProblem, configWithDefaults, DEFAULT_ENFORCEMENT } from "./util";

export const logGroupKmsEncrypted: ResourceValidationPolicy = {
  name: "cloudwatch-log-group-kms-encrypted",
  description:
    "CloudWatch log groups must be encrypted with the customer-managed KMS key: set kmsKeyId to the key's ARN.",
  enforcementLevel: DEFAULT_ENFORCEMENT,
  severity: "medium",
  validateResource: validateResourceOfType(aws.cloudwatch.LogGroup, (group, _args, reportViolation) => {
    const problem = cmkProblem(group.kmsKeyId, "kmsKeyId");
    if (problem) reportViolation(`${problem}.`);
  }),
};

/** cloudwatch-log-group-retention's config defaults (schema and rule). */
const RETENTION_DEFAULTS = { minRetentionDays: 1 };

export const logGroupRetention: ResourceValidationPolicy = {
  name: "cloudwatch-log-group-retention",
  description:
    "CloudWatch log groups must expire their events: set retentionInDays (at least minRetentionDays, default 1; 0 means never expire).",
  enforcementLevel: DEFAULT_ENFORCEMENT,
  severity: "low",
  configSchema: {
    properties: {
      minRetentionDays: { type: "integer", minimum: 1, default: RETENTION_DEFAULTS.minRetentionDays },
    },
  },
  validateResource: validateResourceOfType(aws.cloudwatch.LogGroup, (group, args, reportViolation) => {
    const { minRetentionDays } = configWithDefaults(args, RETENTION_DEFAULTS);
    const days = group.retentionInDays;
    if (days === undefined || days === null || days === 0) {
      reportViolation("retentionInDays is not set: events never expire.");
    } else if (days < minRetentionDays) {
      reportViolation(`retentionInDays is ${days}; keep logs at least ${minRetentionDays} days.`);
    }
  }),
};

export const loggingPolicies = [logGroupKmsEncrypted, logGroupRetention];
