/**
 * Every rule of the pack, one module per domain. `../index.ts` serves exactly this list; tests
 * import it (never `../index.ts`, which starts the policy pack's gRPC server).
 */
import { Policies } from "@pulumi/policy";
import { apiPolicies } from "./api";
import { encryptionPolicies } from "./encryption";
import { iamPolicies } from "./iam";
import { iamGrantPolicies } from "./iamGrants";
import { lambdaPolicies } from "./lambda";
import { loggingPolicies } from "./logging";
import { messagingPolicies } from "./messaging";
import { resourcePolicyPolicies } from "./resourcePolicies";
import { secretPolicies } from "./secrets";
import { workflowPolicies } from "./workflow";

export const allPolicies: Policies = [
  ...encryptionPolicies,
  ...iamPolicies,
  ...iamGrantPolicies,
  ...resourcePolicyPolicies,
  ...secretPolicies,
  ...lambdaPolicies,
  ...apiPolicies,
  ...messagingPolicies,
  ...workflowPolicies,
  ...loggingPolicies,
];
