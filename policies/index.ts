/**
 * The orderflow CrossGuard policy pack. Run it with
 *   pulumi preview --policy-pack policies
 * Each rule is mandatory unless the stack's policy config lowers it, e.g.
 *   { "cloudwatch-log-group-retention": { "enforcementLevel": "advisory", "minRetentionDays": 365 } }
 * passed with --policy-pack-config. This file only serves the rules: `new PolicyPack` starts a
 * gRPC server for the Pulumi CLI and never returns, so nothing else may import this module.
 */
import { PolicyPack } from "@pulumi/policy";
import { allPolicies } from "./rules";

new PolicyPack("orderflow", {
  description:
    "orderflow: encryption with the CMK, least-privilege IAM, API Gateway, SQS, Step Functions and logging guardrails",
  enforcementLevel: "mandatory",
  policies: allPolicies,
});
