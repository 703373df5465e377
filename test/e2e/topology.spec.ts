import { expect } from "chai";
import { buildTopology, rateSeconds, TopologyError, withTimings } from "../../local/topology";
import { CALLBACK_RESOURCE, LAMBDA_INVOKE_RESOURCE } from "../../workflow/definition";
import { FIXTURE, fixtureResources } from "./support/fixture";
import type { RegisteredResource } from "../../program/mocks";

describe("local topology from registered resources", () => {
  const topology = buildTopology(fixtureResources());

  it("reads tables with keys and indexes", () => {
    const orders = topology.tables.find((t) => t.name === FIXTURE.ordersTable)!;
    expect(orders.hashKey).to.equal("orderId");
    expect(orders.globalSecondaryIndexes).to.deep.equal([
      {
        name: "byCreatedAt",
        hashKey: "entity",
        rangeKey: "createdAt",
        projectionType: "ALL",
        nonKeyAttributes: undefined,
      },
    ]);
    expect(topology.tables.find((t) => t.name === FIXTURE.paymentsTable)!.rangeKey).to.equal("entry");
  });

  it("reads queues with their settings and the redrive policy", () => {
    const q = topology.queues.find((x) => x.name === FIXTURE.queue)!;
    expect(q).to.include({ visibilityTimeoutSeconds: 180, messageRetentionSeconds: 345_600 });
    expect(q.redrive).to.deep.equal({ deadLetterQueueName: FIXTURE.dlq, maxReceiveCount: 3 });
    expect(topology.queues.find((x) => x.name === FIXTURE.dlq)!.redrive).to.equal(undefined);
  });

  it("maps functions to handler modules with their environment and limits", () => {
    const pay = topology.functions.find((f) => f.handler === "processPayment")!;
    expect(pay.name).to.equal(FIXTURE.fn.processPayment);
    expect(pay.timeoutSeconds).to.equal(30);
    expect(pay.environment.INVENTORY_FUNCTION_NAME).to.equal(FIXTURE.fn.updateInventory);
  });

  it("reads the event source mapping's batch settings", () => {
    expect(topology.eventSourceMappings).to.deep.equal([
      {
        queueName: FIXTURE.queue,
        functionName: FIXTURE.fn.processPayment,
        batchSize: 10,
        reportBatchItemFailures: true,
        maximumConcurrency: 2,
      },
    ]);
  });

  it("builds API routes from resources, methods, integrations, the model and gateway responses", () => {
    const post = topology.api.routes.find((r) => r.method === "POST")!;
    expect(post).to.include({ resource: "/orders", apiKeyRequired: true, validateBody: true });
    expect(post.integration).to.deep.equal({ type: "AWS_PROXY", functionName: FIXTURE.fn.createOrder });
    expect(post.bodySchema).to.have.property("required").that.deep.equals(["amount"]);
    const options = topology.api.routes.find((r) => r.method === "OPTIONS")!;
    expect(options.apiKeyRequired).to.equal(false);
    expect(options.integration).to.deep.include({ type: "MOCK" });
    if (options.integration.type !== "MOCK") throw new Error("expected MOCK");
    expect(options.integration.preflight.allowedOrigins).to.deep.equal(["http://localhost:3000"]);
    expect(options.integration.preflight.statusCode).to.equal(204);
    expect(topology.api.gatewayResponses.BAD_REQUEST_BODY.statusCode).to.equal(400);
    expect(topology.api.gatewayResponses.DEFAULT_4XX.headers["Access-Control-Allow-Origin"]).to.deep.equal({
      value: "http://localhost:3000",
    });
    expect(topology.api.throttle).to.deep.equal({ rateLimit: 5, burstLimit: 3 });
  });

  it("keeps the seed items and the state machine definition", () => {
    expect(topology.seedItems).to.have.length(1);
    expect(topology.seedItems[0].tableName).to.equal(FIXTURE.inventoryTable);
    expect(topology.stateMachines[0].arn).to.equal(FIXTURE.stateMachineArn);
  });

  it("reads rate() schedules and their target function", () => {
    const resources: RegisteredResource[] = [
      ...fixtureResources(),
      {
        type: "aws:cloudwatch/eventRule:EventRule",
        name: "rule",
        inputs: { scheduleExpression: "rate(5 minutes)" },
        state: { name: "sweep-rule" },
      },
      {
        type: "aws:cloudwatch/eventTarget:EventTarget",
        name: "target",
        inputs: {
          rule: "sweep-rule",
          arn: `arn:aws:lambda:us-east-1:123456789012:function:${FIXTURE.fn.compensateOrder}`,
        },
        state: {},
      },
    ];
    expect(buildTopology(resources).schedules).to.deep.equal([
      {
        rule: "sweep-rule",
        expression: "rate(5 minutes)",
        everySeconds: 300,
        functionName: FIXTURE.fn.compensateOrder,
      },
    ]);
    expect(rateSeconds("rate(1 minute)")).to.equal(60);
    expect(rateSeconds("cron(0 12 * * ? *)")).to.equal(undefined);
  });

  it("takes the partition, region and account from the registered ARNs (a GovCloud capture)", () => {
    expect(topology).to.include({ partition: "aws" });
    const gov = JSON.parse(
      JSON.stringify(fixtureResources()).replace(
        /arn:aws:([a-z-]+):us-east-1:/g,
        "arn:aws-us-gov:$1:us-gov-west-1:",
      ),
    ) as RegisteredResource[];
    expect(buildTopology(gov)).to.include({ partition: "aws-us-gov", region: "us-gov-west-1" });
  });

  it("shortens only the timings it is asked to", () => {
    const fast = withTimings(topology, {
      callbackTimeoutSeconds: 6,
      heartbeatSeconds: 3,
      visibilityTimeoutSeconds: 1,
    });
    const callback = Object.values(fast.stateMachines[0].definition.States).find(
      (s) => s.Resource === CALLBACK_RESOURCE,
    )!;
    expect(callback).to.include({ TimeoutSeconds: 6, HeartbeatSeconds: 3 });
    expect(fast.queues.find((q) => q.name === FIXTURE.queue)!.visibilityTimeoutSeconds).to.equal(1);
    expect(fast.queues.find((q) => q.name === FIXTURE.dlq)!.visibilityTimeoutSeconds).to.equal(30);
    // The input is not modified.
    const original = Object.values(topology.stateMachines[0].definition.States).find(
      (s) => s.Resource === CALLBACK_RESOURCE,
    )!;
    expect(original.TimeoutSeconds).to.equal(900);
  });

  it("refuses a function without the handler tag", () => {
    const resources = fixtureResources().map((r): RegisteredResource =>
      r.type === "aws:lambda/function:Function" ? { ...r, inputs: { ...r.inputs, tags: {} } } : r,
    );
    expect(() => buildTopology(resources)).to.throw(TopologyError, /orderflow:handler/);
  });

  it("refuses a definition that names an unknown function", () => {
    const resources = fixtureResources().map((r): RegisteredResource =>
      r.type === "aws:sfn/stateMachine:StateMachine"
        ? {
            ...r,
            inputs: {
              ...r.inputs,
              definition: String(r.inputs.definition).replace(FIXTURE.fn.compensateOrder, "nope"),
            },
          }
        : r,
    );
    expect(() => buildTopology(resources)).to.throw(TopologyError, /nope/);
  });

  it("refuses a Task it does not serve (a direct Lambda ARN as Resource)", () => {
    const resources = fixtureResources().map((r): RegisteredResource => {
      if (r.type !== "aws:sfn/stateMachine:StateMachine") return r;
      const definition = JSON.parse(String(r.inputs.definition)) as {
        States: Record<string, { Resource?: string; Parameters?: { FunctionName?: string } }>;
      };
      const [name, task] = Object.entries(definition.States).find(
        ([, s]) => s.Resource === LAMBDA_INVOKE_RESOURCE,
      )!;
      definition.States[name] = { ...task, Resource: String(task.Parameters?.FunctionName) };
      return { ...r, inputs: { ...r.inputs, definition: JSON.stringify(definition) } };
    });
    expect(() => buildTopology(resources)).to.throw(TopologyError, /does not serve/);
  });

  it("refuses a redrive policy to an unregistered queue", () => {
    const resources = fixtureResources().filter(
      (r) => !(r.type === "aws:sqs/queue:Queue" && r.state.name === FIXTURE.dlq),
    );
    expect(() => buildTopology(resources)).to.throw(TopologyError, /payments-dlq/);
  });
});
