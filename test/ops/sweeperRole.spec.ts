/**
 * sweep_orders' role, evaluated by @cloud-copilot/iam-simulate (test-only): every call the
 * sweeper makes is allowed on its exact ARN; writes, other functions and other services are not.
 */
import { runSimulation } from "@cloud-copilot/iam-simulate";
import { expect } from "chai";
import { MOCK_ACCOUNT, MOCK_REGION } from "../../program/mocks";
import { byType, captureProgram, functionFor, one, RegisteredResource, T } from "../support/program";

async function decide(
  principal: string,
  policies: unknown[],
  action: string,
  resource: string,
  resourcePolicy?: unknown,
) {
  const response = await runSimulation(
    {
      request: { principal, action, resource: { resource, accountId: MOCK_ACCOUNT }, contextVariables: {} },
      identityPolicies: policies.map((policy, i) => ({ name: `policy-${i}`, policy })),
      serviceControlPolicies: [],
      resourceControlPolicies: [],
      ...(resourcePolicy ? { resourcePolicy } : {}),
    },
    {},
  );
  if (response.resultType !== "single")
    throw new Error(`unexpected simulation result ${response.resultType}`);
  return response.result.analysis?.result ?? "error";
}

describe("sweep_orders role under iam-simulate", function () {
  this.timeout(120_000);
  let all: RegisteredResource[];
  let principal: string;
  let policies: unknown[];
  let keyPolicy: unknown;
  const A: Record<string, string> = {};

  before(async () => {
    all = await captureProgram();
    const fn = functionFor(all, "sweepOrders");
    const role = byType(all, T.role).find((r) => r.state.arn === fn.inputs.role)!;
    principal = String(role.state.arn);
    policies = byType(all, T.rolePolicy)
      .filter((p) => p.inputs.role === role.state.id)
      .map((p) => JSON.parse(String(p.inputs.policy)));
    const key = one(all, T.key);
    A.key = String(key.state.arn);
    keyPolicy = JSON.parse(String(key.inputs.policy));
    A.orders = String(one(all, T.table, "-orders").state.arn);
    A.payments = String(one(all, T.table, "-payments").state.arn);
    A.machine = String(one(all, T.stateMachine).state.arn);
    A.compensate = String(functionFor(all, "compensateOrder").state.arn);
    A.payment = String(functionFor(all, "processPayment").state.arn);
    A.queue = String(one(all, T.queue, "-payments").state.arn);
    A.execution = `${A.machine.replace(":stateMachine:", ":execution:")}:3f2a1c9e-8b7d-4e6f-a5b4-c3d2e1f0a9b8`;
  });

  it("is allowed exactly the calls the sweeper makes", async () => {
    const calls: [string, string][] = [
      ["dynamodb:Query", `${A.orders}/index/byStatus`],
      ["kms:Decrypt", A.key],
      ["states:DescribeExecution", A.execution],
      ["states:StartExecution", A.machine],
      ["lambda:InvokeFunction", A.compensate],
    ];
    for (const [action, resource] of calls) {
      expect(
        await decide(
          principal,
          policies,
          action,
          resource,
          action.startsWith("kms:") ? keyPolicy : undefined,
        ),
        `${action} ${resource}`,
      ).to.equal("Allowed");
    }
  });

  it("is denied writes, scans, other functions, other state machines and other services", async () => {
    const denied: [string, string][] = [
      ["dynamodb:GetItem", A.orders],
      ["dynamodb:PutItem", A.orders],
      ["dynamodb:UpdateItem", A.orders],
      ["dynamodb:DeleteItem", A.orders],
      ["dynamodb:Scan", A.orders],
      ["dynamodb:Query", A.orders],
      ["dynamodb:Query", `${A.payments}/index/byStatus`],
      ["kms:GenerateDataKey", A.key],
      ["states:StopExecution", A.execution],
      ["states:SendTaskSuccess", "*"],
      ["states:StartExecution", `arn:aws:states:${MOCK_REGION}:${MOCK_ACCOUNT}:stateMachine:other`],
      ["states:DescribeExecution", `arn:aws:states:${MOCK_REGION}:${MOCK_ACCOUNT}:execution:other:x`],
      ["lambda:InvokeFunction", A.payment],
      ["lambda:UpdateFunctionCode", A.compensate],
      ["sqs:SendMessage", A.queue],
      ["iam:PassRole", `arn:aws:iam::${MOCK_ACCOUNT}:role/any`],
    ];
    const allowed: string[] = [];
    for (const [action, resource] of denied) {
      if (
        (await decide(
          principal,
          policies,
          action,
          resource,
          action.startsWith("kms:") ? keyPolicy : undefined,
        )) === "Allowed"
      ) {
        allowed.push(`${action} ${resource}`);
      }
    }
    expect(allowed).to.deep.equal([]);
  });
});
