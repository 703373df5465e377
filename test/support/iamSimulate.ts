/**
 * Offline IAM evaluation with @cloud-copilot/iam-simulate (AGPL: test-only, never imported by
 * policies/), and the lookups that turn a captured program into a principal and its policies.
 */
import { runSimulation } from "@cloud-copilot/iam-simulate";
import { MOCK_ACCOUNT } from "../../program/mocks";
import { T as FIXTURE_TYPES } from "./policyFixtures";
import { byType, functionFor, RegisteredResource, T } from "./program";

export interface Call {
  action: string;
  resource: string;
}

/** `action resource`, for messages and sets of calls. */
export const callKey = (c: Call) => `${c.action} ${c.resource}`;

/** Simulates `call` for a principal with `policies`; "Allowed", "ImplicitlyDenied", ... */
export async function decide(
  principal: string,
  policies: unknown[],
  call: Call,
  resourcePolicy?: unknown,
): Promise<string> {
  const response = await runSimulation(
    {
      request: {
        principal,
        action: call.action,
        resource: { resource: call.resource, accountId: MOCK_ACCOUNT },
        contextVariables: {},
      },
      identityPolicies: policies.map((policy, i) => ({ name: `policy-${i}`, policy })),
      serviceControlPolicies: [],
      resourceControlPolicies: [],
      ...(resourcePolicy ? { resourcePolicy } : {}),
    },
    {},
  );
  if (response.resultType === "error") {
    throw new Error(
      `simulation of ${call.action} on ${call.resource} is invalid: ${JSON.stringify(response.errors)}`,
    );
  }
  return response.overallResult;
}

const refersTo = (role: RegisteredResource, value: unknown) =>
  [role.state.id, role.state.name, role.state.arn].includes(value as string);

/** Identity policies of a role: inline RolePolicy resources and the role's inlinePolicies. */
export function identityPoliciesOf(all: RegisteredResource[], role: RegisteredResource): unknown[] {
  const inline = byType(all, T.rolePolicy).filter((p) => refersTo(role, p.inputs.role));
  const embedded = ((role.inputs.inlinePolicies ?? []) as { policy?: string }[]).filter((p) => p.policy);
  return [
    ...inline.map((p) => JSON.parse(String(p.inputs.policy))),
    ...embedded.map((p) => JSON.parse(String(p.policy))),
  ];
}

/** Managed policy ARNs on a role: its managedPolicyArns and RolePolicyAttachments. */
export function managedPolicyArnsOf(all: RegisteredResource[], role: RegisteredResource): string[] {
  return [
    ...((role.inputs.managedPolicyArns ?? []) as string[]),
    ...byType(all, FIXTURE_TYPES.attachment)
      .filter((a) => refersTo(role, a.inputs.role))
      .map((a) => String(a.inputs.policyArn)),
  ];
}

/** The role a handler's function runs under, with its identity and managed policies. */
export function roleFor(
  all: RegisteredResource[],
  handler: string,
): { role: RegisteredResource; principal: string; policies: unknown[]; managed: string[] } {
  const fn = functionFor(all, handler);
  const role = byType(all, T.role).find((r) => r.state.arn === fn.inputs.role);
  if (!role) throw new Error(`${handler}: no role with ARN ${String(fn.inputs.role)} in the program`);
  return {
    role,
    principal: String(role.state.arn),
    policies: identityPoliciesOf(all, role),
    managed: managedPolicyArnsOf(all, role),
  };
}
