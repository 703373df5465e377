import { expect } from "chai";
import { startApi, type LocalApiServer } from "../../local/api";
import type { LocalFunctions } from "../../local/lambda";
import { createLogger } from "../../local/log";
import type { LocalApi } from "../../local/topology";
import { buildTopology } from "../../local/topology";
import { fixtureResources } from "./support/fixture";

/**
 * The offline API applies API Gateway's two throttling layers as the program configures them: the
 * usage plan per key, and the stage's method throttle for all keys together.
 */
describe("offline API: per-key and stage-wide throttling", function () {
  this.timeout(20_000);
  let server: LocalApiServer;
  const keys = ["key-a", "key-b"];
  // Slow refill (one token per 100 s) so the counts below do not depend on timing.
  const perKey = { rateLimit: 0.01, burstLimit: 2 };
  const stage = { rateLimit: 0.01, burstLimit: 3 };

  before(async () => {
    const api: LocalApi = {
      routes: [
        {
          resource: "/orders",
          method: "GET",
          apiKeyRequired: true,
          validateBody: false,
          integration: { type: "AWS_PROXY", functionName: "list" },
        },
      ],
      throttle: perKey,
      stageThrottle: stage,
      gatewayResponses: {},
    };
    const functions = {
      invoke: async () => ({ statusCode: 200, body: "{}" }),
    } as unknown as LocalFunctions;
    server = await startApi({
      api,
      functions,
      apiKeys: keys,
      throttle: perKey,
      stageThrottle: stage,
      stage: "v1",
      accountId: "123456789012",
      log: createLogger("silent"),
    });
  });
  after(async () => server?.stop());

  const get = (key: string) =>
    fetch(`${server.url}/orders`, { headers: { "x-api-key": key } }).then((r) => r.status);

  it("stops one key at its own burst, then every key at the stage's", async () => {
    const a = [await get("key-a"), await get("key-a"), await get("key-a")];
    expect(a, "key A: burst 2 of its own").to.deep.equal([200, 200, 429]);
    // Key B has its own two tokens, but the stage has one left of its three.
    const b = [await get("key-b"), await get("key-b")];
    expect(b, "key B: stopped by the stage, not by its own limit").to.deep.equal([200, 429]);
  });

  it("reads both layers from what the program registers (usage plan and stage method settings)", () => {
    const topology = buildTopology([
      ...fixtureResources(),
      {
        type: "aws:apigateway/methodSettings:MethodSettings",
        name: "settings",
        inputs: { methodPath: "*/*", settings: { throttlingRateLimit: 50, throttlingBurstLimit: 30 } },
        state: {},
      },
    ]);
    expect(topology.api.throttle).to.deep.equal({ rateLimit: 5, burstLimit: 3 });
    expect(topology.api.stageThrottle).to.deep.equal({ rateLimit: 50, burstLimit: 30 });
  });
});
