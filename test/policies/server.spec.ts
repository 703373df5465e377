/**
 * The real thing, once: start policies/index.ts the way the Pulumi CLI does (a child process that
 * prints its gRPC port), then talk to it over the analyzer protocol: the served policies are
 * exactly allPolicies, and `analyze` reports violations, advisories for unknown values, and
 * passes. The test process itself never imports index.ts.
 */
import { ChildProcess, spawn } from "child_process";
import { expect } from "chai";
import * as path from "path";
import { allPolicies } from "../../policies/rules";
import { UNKNOWN } from "../support/policyHarness";

/* eslint-disable @typescript-eslint/no-require-imports, @typescript-eslint/no-explicit-any */
const protoDir = path.dirname(require.resolve("@pulumi/pulumi/proto/analyzer_pb"));
const fromPulumi = (m: string) => require(require.resolve(m, { paths: [protoDir] }));
const grpc = fromPulumi("@grpc/grpc-js");
const analyzerrpc = require("@pulumi/pulumi/proto/analyzer_grpc_pb");
const analyzerproto = require("@pulumi/pulumi/proto/analyzer_pb");
const { Struct } = fromPulumi("google-protobuf/google/protobuf/struct_pb");
const { Empty } = fromPulumi("google-protobuf/google/protobuf/empty_pb");

const PACK = path.join(__dirname, "..", "..", "policies");

describe("the policy pack served like the Pulumi CLI runs it", function () {
  this.timeout(60_000);
  let child: ChildProcess | undefined;
  let client: any;

  before(async () => {
    child = spawn(process.execPath, ["-r", "ts-node/register", "index.ts"], {
      cwd: PACK,
      env: { ...process.env, TS_NODE_TRANSPILE_ONLY: "true" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stderr = "";
    child.stderr!.on("data", (d) => (stderr += String(d)));
    const port = await new Promise<number>((resolve, reject) => {
      let out = "";
      child!.stdout!.on("data", (d) => {
        out += String(d);
        const m = /^(\d+)\s*$/m.exec(out);
        if (m) resolve(Number(m[1]));
      });
      child!.on("exit", (code) => reject(new Error(`policy pack exited with ${code}: ${stderr}`)));
    });
    const Client = grpc.makeGenericClientConstructor(analyzerrpc.AnalyzerService, "Analyzer");
    client = new Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  });

  after(() => {
    client?.close();
    if (child?.pid && child.exitCode === null) process.kill(child.pid);
  });

  const call = <T>(method: string, request: unknown): Promise<T> =>
    new Promise((resolve, reject) =>
      client[method](request, (err: Error | null, res: T) => (err ? reject(err) : resolve(res))),
    );

  function analyzeRequest(type: string, name: string, props: Record<string, unknown>): unknown {
    const req = new analyzerproto.AnalyzeRequest();
    req.setType(type);
    req.setName(name);
    req.setUrn(`urn:pulumi:test::orderflow::${type}::${name}`);
    req.setProperties(Struct.fromJavaScript(props));
    req.setOptions(new analyzerproto.AnalyzerResourceOptions());
    return req;
  }

  async function analyze(type: string, props: Record<string, unknown>) {
    const res: any = await call("analyze", analyzeRequest(type, "q", props));
    return res.getDiagnosticsList().map((d: any) => ({
      policy: d.getPolicyname(),
      level: d.getEnforcementlevel(),
      message: d.getMessage(),
    }));
  }

  it("serves every rule of allPolicies, mandatory, under the pack name 'orderflow'", async () => {
    const info: any = await call("getAnalyzerInfo", new Empty());
    expect(info.getName()).to.equal("orderflow");
    const served = info
      .getPoliciesList()
      .map((p: any) => p.getName())
      .sort();
    expect(served).to.deep.equal(allPolicies.map((p) => p.name).sort());
    const MANDATORY = analyzerproto.EnforcementLevel.MANDATORY;
    expect(info.getPoliciesList().every((p: any) => p.getEnforcementlevel() === MANDATORY)).to.equal(true);
  });

  it("blocks a queue without the CMK, passes one with it, and turns an unknown key into an advisory", async () => {
    const queue = "aws:sqs/queue:Queue";
    const bad = await analyze(queue, {});
    expect(bad.map((d: any) => [d.policy, d.level])).to.deep.equal([
      ["sqs-queue-cmk-encrypted", analyzerproto.EnforcementLevel.MANDATORY],
    ]);
    expect(
      await analyze(queue, { kmsMasterKeyId: "arn:aws:kms:us-east-1:123456789012:key/abc" }),
    ).to.deep.equal([]);
    const unknown = await analyze(queue, { kmsMasterKeyId: UNKNOWN.string });
    expect(unknown.map((d: any) => [d.policy, d.level])).to.deep.equal([
      ["sqs-queue-cmk-encrypted", analyzerproto.EnforcementLevel.ADVISORY],
    ]);
    expect(unknown[0].message).to.match(/can't run policy 'sqs-queue-cmk-encrypted'.*during preview/);
  });

  it("runs the async IAM rules (iam-data) inside the served pack", async () => {
    const policy = JSON.stringify({
      Version: "2012-10-17",
      Statement: [{ Effect: "Allow", Action: "dynamodb:GetItm", Resource: "*" }],
    });
    const found = await analyze("aws:iam/rolePolicy:RolePolicy", { role: "r", policy });
    expect(found.map((d: any) => d.policy)).to.deep.equal(["iam-known-actions"]);
  });
});
