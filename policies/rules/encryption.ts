/**
 * Encryption at rest with the customer-managed key, and the key itself (rotation, key policy).
 * Checkov CKV_AWS_27/CKV_AWS_26 (SQS/SNS), CKV_AWS_119/CKV_AWS_28 (DynamoDB CMK/PITR),
 * CKV_AWS_7/CKV_AWS_33 (KMS rotation, no wildcard principal); Security Hub KMS.4, DynamoDB.2.
 */
import * as aws from "@pulumi/aws";
import { ResourceValidationPolicy, validateResourceOfType } from "@pulumi/policy";
import { documentStatements, isAllow, isPublicPrincipal, label, principalsOf } from "./documents";
import { cmkProblem, DEFAULT_ENFORCEMENT } from "./util";

export const sqsQueueCmkEncrypted: ResourceValidationPolicy = {
  name: "sqs-queue-cmk-encrypted",
  description:
    "SQS queues (main and dead-letter) must be encrypted with a customer-managed KMS key: set kmsMasterKeyId to the key's ARN (not alias/aws/sqs, not SQS-managed SSE).",
  enforcementLevel: DEFAULT_ENFORCEMENT,
  severity: "high",
  validateResource: validateResourceOfType(aws.sqs.Queue, (queue, _args, reportViolation) => {
    const problem = cmkProblem(queue.kmsMasterKeyId, "kmsMasterKeyId");
    if (problem) reportViolation(`${problem}.`);
    if (queue.sqsManagedSseEnabled === true) {
      reportViolation(
        "sqsManagedSseEnabled is true: SQS-managed keys cannot be audited or revoked; remove it and use the CMK.",
      );
    }
  }),
};

export const snsTopicCmkEncrypted: ResourceValidationPolicy = {
  name: "sns-topic-cmk-encrypted",
  description:
    "SNS topics must be encrypted with a customer-managed KMS key: set kmsMasterKeyId to the key's ARN (not alias/aws/sns).",
  enforcementLevel: DEFAULT_ENFORCEMENT,
  severity: "high",
  validateResource: validateResourceOfType(aws.sns.Topic, (topic, _args, reportViolation) => {
    const problem = cmkProblem(topic.kmsMasterKeyId, "kmsMasterKeyId");
    if (problem) reportViolation(`${problem}.`);
  }),
};

export const dynamodbTableCmkEncrypted: ResourceValidationPolicy = {
  name: "dynamodb-table-cmk-encrypted",
  description:
    "DynamoDB tables must be encrypted with a customer-managed KMS key: set serverSideEncryption to { enabled: true, kmsKeyArn: <key ARN> }.",
  enforcementLevel: DEFAULT_ENFORCEMENT,
  severity: "high",
  validateResource: validateResourceOfType(aws.dynamodb.Table, (table, _args, reportViolation) => {
    const sse = table.serverSideEncryption;
    if (!sse || sse.enabled !== true) {
      reportViolation("serverSideEncryption.enabled is not true: the table uses an AWS-owned key.");
      return;
    }
    const problem = cmkProblem(sse.kmsKeyArn, "serverSideEncryption.kmsKeyArn");
    if (problem)
      reportViolation(`${problem}: without it DynamoDB uses the AWS-managed key alias/aws/dynamodb.`);
  }),
};

export const dynamodbTablePitrEnabled: ResourceValidationPolicy = {
  name: "dynamodb-table-pitr-enabled",
  description:
    "DynamoDB tables must have point-in-time recovery: set pointInTimeRecovery to { enabled: true }.",
  enforcementLevel: DEFAULT_ENFORCEMENT,
  severity: "medium",
  validateResource: validateResourceOfType(aws.dynamodb.Table, (table, _args, reportViolation) => {
    if (table.pointInTimeRecovery?.enabled !== true) {
      reportViolation("pointInTimeRecovery.enabled is not true.");
    }
  }),
};

export const kmsKeyRotationEnabled: ResourceValidationPolicy = {
  name: "kms-key-rotation-enabled",
  description: "Symmetric KMS keys must rotate automatically: set enableKeyRotation: true.",
  enforcementLevel: DEFAULT_ENFORCEMENT,
  severity: "medium",
  validateResource: validateResourceOfType(aws.kms.Key, (key, args, reportViolation) => {
    const spec = key.customerMasterKeySpec ?? "SYMMETRIC_DEFAULT";
    if (spec !== "SYMMETRIC_DEFAULT") {
      args.notApplicable(
        `automatic rotation is only available for symmetric encryption keys (this key is ${spec})`,
      );
    }
    if (key.enableKeyRotation !== true) reportViolation("enableKeyRotation is not true.");
  }),
};

function checkKeyPolicy(policy: unknown, reportViolation: (message: string) => void): void {
  if (policy === undefined || policy === null || policy === "") return; // AWS's default key policy: the account only.
  const statements = documentStatements(policy);
  if ("error" in statements) {
    reportViolation(`the key policy cannot be checked: ${statements.error}.`);
    return;
  }
  statements.forEach((s, i) => {
    if (!isAllow(s)) return;
    const where = label(s, i, "key policy");
    // Unlike resource-policy-no-public-access, no condition makes a wildcard principal acceptable here.
    if (principalsOf(s.Principal).some(isPublicPrincipal)) {
      reportViolation(`${where} allows a wildcard principal: name the account root or the roles instead.`);
    }
    if (s.NotPrincipal !== undefined) {
      reportViolation(
        `${where} allows NotPrincipal, which grants everyone else: name the principals instead.`,
      );
    }
  });
}

export const kmsKeyPolicyNoWildcardPrincipal: ResourceValidationPolicy = {
  name: "kms-key-policy-no-wildcard-principal",
  description:
    'KMS key policies must not allow a wildcard principal ("*", { AWS: "*" }, arn:aws:iam::*:root): name the account root, roles or service principals with conditions.',
  enforcementLevel: DEFAULT_ENFORCEMENT,
  severity: "critical",
  validateResource: (args, reportViolation) => {
    const key = args.asType(aws.kms.Key);
    if (key) return checkKeyPolicy(key.policy, reportViolation);
    const keyPolicy = args.asType(aws.kms.KeyPolicy);
    if (keyPolicy) return checkKeyPolicy(keyPolicy.policy, reportViolation);
    args.notApplicable("only KMS keys and key policies have a key policy");
  },
};

export const encryptionPolicies = [
  sqsQueueCmkEncrypted,
  snsTopicCmkEncrypted,
  dynamodbTableCmkEncrypted,
  dynamodbTablePitrEnabled,
  kmsKeyRotationEnabled,
  kmsKeyPolicyNoWildcardPrincipal,
];
