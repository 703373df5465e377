import { expect } from "chai";
import * as path from "node:path";
import * as sinon from "sinon";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { SFNClient } from "@aws-sdk/client-sfn";
import { captureProgram, functionFor } from "../support/program";
import { lambdaRuntimeRoot, unpackFunction } from "../support/serializedFunctions";

/**
 * The sweep_orders code `pulumi up` would upload, loaded from its archive and run once with
 * the SDK stubbed: it loads, reads its settings, queries the byStatus index and reports.
 */
describe("sweep_orders: the serialized artifact", function () {
  this.timeout(120_000);
  const sandbox = sinon.createSandbox();
  after(() => sandbox.restore());

  it("loads from its archive and sweeps through the byStatus index", async () => {
    const fn = functionFor(await captureProgram(), "sweepOrders");
    const unpacked = await unpackFunction(fn, lambdaRuntimeRoot());
    const env = (fn.inputs.environment as { variables: Record<string, string> }).variables;
    const saved = process.env;
    process.env = {
      ...saved,
      AWS_REGION: "us-east-1",
      AWS_ACCESS_KEY_ID: "t",
      AWS_SECRET_ACCESS_KEY: "t",
      ...env,
    };
    const queries: Record<string, unknown>[] = [];
    (sandbox.stub(DynamoDBClient.prototype, "send") as sinon.SinonStub).callsFake(
      async (command: { input: Record<string, unknown> }) => {
        queries.push(command.input);
        return command.input.Select === "COUNT" ? { Count: 0 } : { Items: [] };
      },
    );
    const sfn = sandbox.stub(SFNClient.prototype, "send") as sinon.SinonStub;
    const lines: string[] = [];
    const write = process.stdout.write.bind(process.stdout);
    process.stdout.write = ((chunk: string) => (
      lines.push(String(chunk)),
      true
    )) as typeof process.stdout.write;
    try {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const mod = require(path.join(unpacked.dir, "__index.js")) as {
        handler: (e: unknown) => Promise<unknown>;
      };
      const report = (await mod.handler({ source: "aws.events" })) as {
        entries: unknown[];
        inFlight: number;
        olderThanSeconds: number;
      };
      expect(report).to.deep.include({
        entries: [],
        inFlight: 0,
        olderThanSeconds: Number(env.STUCK_AFTER_SECONDS),
      });
    } finally {
      process.env = saved;
      process.stdout.write = write;
    }
    const inFlight = lines
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .find((l) => l.msg === "orders in flight");
    expect(inFlight, "an EMF line for OrdersInFlight").to.deep.include({ OrdersInFlight: 0 });
    expect(inFlight).to.have.property("_aws");
    expect(queries).to.have.length(6);
    for (const q of queries) expect(q).to.include({ TableName: env.ORDERS_TABLE, IndexName: "byStatus" });
    expect(sfn.called).to.equal(false);
  });
});
