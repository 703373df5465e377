import { expect } from "chai";
import { HANDLER_TAG } from "../../components/handlerTag";
import { LAMBDA_RUNTIME } from "../../components/orderFunction";
import { createOrderModelSchema, GATEWAY_RESPONSE_TEMPLATES } from "../../components/apiModel";
import { DEFAULTS } from "../../config";
import { ENV } from "../../functions/shared/settings";
import { readStackConfig } from "../../program/stackConfig";
import { CALLBACK_RESOURCE, STATE, StateMachineDefinition } from "../../workflow/definition";
import { checkWorkflow } from "../../workflow/checks";
import { MOCK_ACCOUNT, MOCK_REGION } from "../../program/mocks";
import {
  byType,
  captureProgram,
  functionFor,
  HANDLER_IDS,
  one,
  RegisteredResource,
  statementsFor,
  T,
} from "../support/program";

const dev = readStackConfig("dev");
const num = (key: string) => Number(dev[`orderflow:${key}`]);

/** An Allow statement written out, as the expected value of a role's policy. */
const allow = (Sid: string, Action: string[], Resource: string[]) => ({
  Sid,
  Effect: "Allow",
  Action,
  Resource,
});

describe("the program under mocks", function () {
  this.timeout(120_000);
  let all: RegisteredResource[];
  let keyArn: string;
  const table = (suffix: string) => one(all, T.table, `-${suffix}`);

  before(async () => {
    all = await captureProgram();
    keyArn = String(one(all, T.key).state.arn);
  });

  it("registers the four components, each child named after its component", () => {
    const types = all.map((r) => r.type);
    for (const component of ["OrderData", "OrderApi", "OrderWorkflow", "Notifications"]) {
      expect(types).to.include(`orderflow:index:${component}`);
    }
    const aws = all.filter((r) => r.type.startsWith("aws:"));
    for (const r of aws) expect(r.name, r.type).to.match(/^orderflow-test-/);
  });

  describe("data", () => {
    it("has a rotating customer-managed key whose policy names no wildcard principal", () => {
      const key = one(all, T.key);
      expect(key.inputs.enableKeyRotation).to.equal(true);
      const policy = JSON.parse(String(key.inputs.policy)) as { Statement: { Principal: unknown }[] };
      for (const s of policy.Statement) expect(JSON.stringify(s.Principal)).not.to.match(/"\*"/);
      expect(policy.Statement[0].Principal).to.deep.equal({ AWS: `arn:aws:iam::${MOCK_ACCOUNT}:root` });
    });

    for (const name of ["orders", "inventory", "payments"]) {
      it(`${name} table: on-demand, CMK, point-in-time recovery, deletion protection from config`, () => {
        const t = table(name);
        expect(t.inputs.billingMode).to.equal("PAY_PER_REQUEST");
        expect(t.inputs.serverSideEncryption).to.deep.equal({ enabled: true, kmsKeyArn: keyArn });
        expect(t.inputs.pointInTimeRecovery).to.deep.equal({ enabled: true });
        expect(t.inputs.deletionProtectionEnabled).to.equal(false); // dev stack says false
      });
    }

    it("orders table has the two listing indexes, write-sharded, projecting only the list view", () => {
      const listed = [
        "status",
        "items",
        "total",
        "createdAt",
        "updatedAt",
        "failure",
        "chargeId",
        "notifiedAt",
      ];
      const include = { projectionType: "INCLUDE", nonKeyAttributes: listed };
      expect(table("orders").inputs.globalSecondaryIndexes).to.deep.equal([
        { name: "byCreatedAt", hashKey: "listShard", rangeKey: "listSort", ...include },
        { name: "byStatus", hashKey: "statusShard", rangeKey: "listSort", ...include },
      ]);
      // No customer data, payment token or request hash in an index.
      const gsis = table("orders").inputs.globalSecondaryIndexes as { nonKeyAttributes?: string[] }[];
      for (const gsi of gsis)
        for (const secret of ["customer", "paymentToken", "requestHash"])
          expect(gsi.nonKeyAttributes).not.to.include(secret);
      expect(table("payments").inputs.rangeKey).to.equal("entry");
    });

    it("seeds the dev catalogue once, with an empty reservation map", () => {
      const items = byType(all, T.tableItem);
      const catalogue = JSON.parse(dev["orderflow:catalogue"]) as { sku: string }[];
      expect(items.map((i) => JSON.parse(String(i.inputs.item)).sku.S).sort()).to.deep.equal(
        catalogue.map((c) => c.sku).sort(),
      );
      expect(JSON.parse(String(items[0].inputs.item)).reservations).to.deep.equal({ M: {} });
    });
  });

  describe("workflow", () => {
    it("payment queue and DLQ are CMK-encrypted, redrive after maxReceiveCount, DLQ keeps messages longer", () => {
      const queue = one(all, T.queue, "-payments");
      const dlq = one(all, T.queue, "-payments-dlq");
      expect(queue.inputs.kmsMasterKeyId).to.equal(keyArn);
      expect(dlq.inputs.kmsMasterKeyId).to.equal(keyArn);
      expect(JSON.parse(String(queue.inputs.redrivePolicy))).to.deep.equal({
        deadLetterTargetArn: dlq.state.arn,
        maxReceiveCount: num("maxReceiveCount"),
      });
      expect(Number(dlq.inputs.messageRetentionSeconds)).to.be.greaterThan(
        Number(queue.inputs.messageRetentionSeconds),
      );
      const allow = one(all, T.redriveAllow);
      expect(allow.inputs.queueUrl).to.equal(dlq.state.id);
      expect(JSON.parse(String(allow.inputs.redriveAllowPolicy))).to.deep.equal({
        redrivePermission: "byQueue",
        sourceQueueArns: [queue.state.arn],
      });
    });

    it("visibility timeout is 6x process_payment's timeout", () => {
      const queue = one(all, T.queue, "-payments");
      const consumer = functionFor(all, "processPayment");
      expect(consumer.inputs.timeout).to.equal(num("paymentFunctionTimeoutSeconds"));
      expect(queue.inputs.visibilityTimeoutSeconds).to.equal(6 * Number(consumer.inputs.timeout));
    });

    it("the queue triggers process_payment with partial batch failures", () => {
      const esm = one(all, T.esm);
      expect(esm.inputs.eventSourceArn).to.equal(one(all, T.queue, "-payments").state.arn);
      expect(esm.inputs.functionName).to.equal(functionFor(all, "processPayment").state.arn);
      expect(esm.inputs.functionResponseTypes).to.deep.equal(["ReportBatchItemFailures"]);
      // The dev stack leaves the capacity keys at their defaults (config.ts).
      expect(esm.inputs.batchSize).to.equal(DEFAULTS.paymentBatchSize);
      expect(esm.inputs.scalingConfig).to.deep.equal({ maximumConcurrency: DEFAULTS.paymentMaxConcurrency });
      const consumer = functionFor(all, "processPayment");
      const env = (consumer.inputs.environment as { variables: Record<string, string> }).variables;
      expect(env[ENV.paymentRecordConcurrency]).to.equal(String(DEFAULTS.paymentRecordConcurrency));
      expect(env[ENV.paymentRecordBudgetMs]).to.equal(String(DEFAULTS.paymentRecordBudgetSeconds * 1000));
      expect(consumer.inputs.reservedConcurrentExecutions).to.equal(undefined);
    });

    it("the state machine runs the checked definition, wired to the real queue and functions", () => {
      const sm = one(all, T.stateMachine);
      expect(sm.inputs.type).to.equal("STANDARD");
      const definition = JSON.parse(String(sm.inputs.definition)) as StateMachineDefinition;
      expect(checkWorkflow(definition, STATE.compensate)).to.deep.equal([]);
      const callback = definition.States[STATE.processPayment];
      expect(callback.Resource).to.equal(CALLBACK_RESOURCE);
      expect((callback.Parameters as { QueueUrl: string }).QueueUrl).to.equal(
        one(all, T.queue, "-payments").state.url,
      );
      expect(JSON.stringify(callback.Parameters)).to.include('"taskToken.$":"$$.Task.Token"');
      expect(callback.TimeoutSeconds).to.equal(num("callbackTimeoutSeconds"));
      expect(callback.HeartbeatSeconds).to.equal(num("heartbeatSeconds"));
      const fnArn = (state: string) =>
        (definition.States[state].Parameters as { FunctionName: string }).FunctionName;
      expect(fnArn(STATE.notifyCustomer)).to.equal(functionFor(all, "sendNotification").state.arn);
      expect(fnArn(STATE.compensate)).to.equal(functionFor(all, "compensateOrder").state.arn);
    });

    it("the state machine logs to a KMS log group and traces", () => {
      const sm = one(all, T.stateMachine);
      const logs = one(all, T.logGroup, "-state-machine-logs");
      expect(sm.inputs.loggingConfiguration).to.deep.include({
        logDestination: `${logs.state.arn}:*`,
        level: "ERROR",
      });
      expect(sm.inputs.tracingConfiguration).to.deep.equal({ enabled: true });
      expect(logs.inputs.kmsKeyId).to.equal(keyArn);
      expect(String(logs.inputs.namePrefix)).to.match(/^\/aws\/vendedlogs\/states\//);
    });

    it("the state machine role sends to the queue and invokes only notify and compensate", () => {
      const sm = one(all, T.stateMachine);
      const role = byType(all, T.role).find((r) => r.state.arn === sm.inputs.roleArn);
      expect(role).to.not.equal(undefined);
      const trust = JSON.parse(String(role?.inputs.assumeRolePolicy));
      expect(trust.Statement[0].Principal).to.deep.equal({ Service: "states.amazonaws.com" });
      const policy = byType(all, T.rolePolicy).find((p) => p.inputs.role === role?.state.id);
      const statements = JSON.parse(String(policy?.inputs.policy)).Statement as {
        Sid: string;
        Resource: string[];
        Action: string[];
      }[];
      const bySid = Object.fromEntries(statements.map((s) => [s.Sid, s]));
      expect(bySid.SendPaymentMessage.Resource).to.deep.equal([one(all, T.queue, "-payments").state.arn]);
      const notify = String(functionFor(all, "sendNotification").state.arn);
      const compensate = String(functionFor(all, "compensateOrder").state.arn);
      expect(bySid.NotifyAndCompensate.Resource).to.deep.equal([
        notify,
        `${notify}:*`,
        compensate,
        `${compensate}:*`,
      ]);
      expect(bySid.EncryptedQueue).to.deep.include({
        Action: ["kms:Decrypt", "kms:GenerateDataKey"],
        Resource: [keyArn],
      });
    });
  });

  describe("every Lambda", () => {
    for (const handlerId of HANDLER_IDS) {
      it(`${handlerId}: ${LAMBDA_RUNTIME}, tracing, CMK env, explicit timeout/memory, own role and own KMS log group`, () => {
        const fn = functionFor(all, handlerId);
        expect(fn.inputs.runtime).to.equal(LAMBDA_RUNTIME);
        expect(fn.inputs.tracingConfig).to.deep.equal({ mode: "Active" });
        expect(fn.inputs.kmsKeyArn).to.equal(keyArn);
        expect(fn.inputs.timeout).to.be.a("number");
        expect(fn.inputs.memorySize).to.be.a("number");
        const others = byType(all, T.fn).filter((f) => f !== fn);
        expect(others.map((o) => o.inputs.role)).not.to.include(fn.inputs.role);
        const logGroup = byType(all, T.logGroup).find(
          (g) => g.state.name === (fn.inputs.loggingConfig as { logGroup: string }).logGroup,
        );
        expect(logGroup?.inputs).to.deep.include({
          kmsKeyId: keyArn,
          retentionInDays: num("logRetentionDays"),
        });
        const statements = statementsFor(all, fn);
        expect(statements.slice(0, 3)).to.deep.equal([
          allow("WriteOwnLogs", ["logs:CreateLogStream", "logs:PutLogEvents"], [`${logGroup?.state.arn}:*`]),
          allow("Tracing", ["xray:PutTraceSegments", "xray:PutTelemetryRecords"], ["*"]),
          allow("DecryptEnvironment", ["kms:Decrypt"], [keyArn]),
        ]);
        const role = byType(all, T.role).find((r) => r.state.arn === fn.inputs.role);
        const trust = JSON.parse(String(role?.inputs.assumeRolePolicy));
        expect(trust.Statement).to.deep.equal([
          {
            Effect: "Allow",
            Principal: { Service: "lambda.amazonaws.com" },
            Action: "sts:AssumeRole",
            Condition: { StringEquals: { "aws:SourceAccount": MOCK_ACCOUNT } },
          },
        ]);
      });
    }

    it("every function is one functions/ module, each deployed once", () => {
      const tags = byType(all, T.fn).map((f) => (f.inputs.tags as Record<string, string>)[HANDLER_TAG]);
      expect(tags.sort()).to.deep.equal([...HANDLER_IDS].sort());
    });

    it("no role has a managed policy attached (the CallbackFunction default would attach nine)", () => {
      expect(byType(all, "aws:iam/rolePolicyAttachment:RolePolicyAttachment")).to.deep.equal([]);
    });
  });

  describe("exact IAM statements per function (beyond logs, tracing and env decryption)", () => {
    const arnOf = (r: RegisteredResource) => String(r.state.arn);
    const own = (handlerId: string) => statementsFor(all, functionFor(all, handlerId)).slice(3);
    const kms = (mode: "decrypt" | "encrypt", Sid: string) =>
      allow(Sid, mode === "decrypt" ? ["kms:Decrypt"] : ["kms:Decrypt", "kms:GenerateDataKey"], [keyArn]);

    it("create_order", () => {
      expect(own("createOrder")).to.deep.equal([
        allow("Catalogue", ["dynamodb:BatchGetItem"], [arnOf(table("inventory"))]),
        allow("Orders", ["dynamodb:GetItem", "dynamodb:PutItem"], [arnOf(table("orders"))]),
        allow("StartWorkflow", ["states:StartExecution"], [arnOf(one(all, T.stateMachine))]),
        kms("encrypt", "EncryptedTables"),
      ]);
    });

    it("get_order and list_orders only read", () => {
      expect(own("getOrder")).to.deep.equal([
        allow("Orders", ["dynamodb:GetItem"], [arnOf(table("orders"))]),
        kms("decrypt", "EncryptedTable"),
      ]);
      expect(own("listOrders")).to.deep.equal([
        allow("OrderIndexes", ["dynamodb:Query"], [`${arnOf(table("orders"))}/index/*`]),
        kms("decrypt", "EncryptedTable"),
      ]);
    });

    it("process_payment and compensate_order share the ledger statements; only the consumer reads the queue", () => {
      const inventoryFn = arnOf(functionFor(all, "updateInventory"));
      const ledger = [
        allow("Orders", ["dynamodb:GetItem", "dynamodb:UpdateItem"], [arnOf(table("orders"))]),
        allow("PaymentLedger", ["dynamodb:GetItem", "dynamodb:PutItem"], [arnOf(table("payments"))]),
        allow("UpdateInventory", ["lambda:InvokeFunction"], [inventoryFn, `${inventoryFn}:*`]),
        kms("encrypt", "EncryptedTables"),
      ];
      expect(own("processPayment")).to.deep.equal([
        ...ledger,
        allow(
          "ConsumePaymentQueue",
          ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"],
          [arnOf(one(all, T.queue, "-payments"))],
        ),
        allow(
          "WorkflowCallback",
          ["states:SendTaskSuccess", "states:SendTaskFailure", "states:SendTaskHeartbeat"],
          ["*"],
        ),
      ]);
      expect(own("compensateOrder")).to.deep.equal(ledger);
    });

    it("update_inventory and send_notification", () => {
      expect(own("updateInventory")).to.deep.equal([
        allow("Inventory", ["dynamodb:GetItem", "dynamodb:UpdateItem"], [arnOf(table("inventory"))]),
        kms("encrypt", "EncryptedTable"),
      ]);
      expect(own("sendNotification")).to.deep.equal([
        allow("Orders", ["dynamodb:GetItem", "dynamodb:UpdateItem"], [arnOf(table("orders"))]),
        allow("PublishNotification", ["sns:Publish"], [arnOf(one(all, T.topic, "-topic"))]),
        kms("encrypt", "EncryptedTopicAndTable"),
      ]);
    });
  });

  describe("API", () => {
    const methods = () => byType(all, T.method);

    it("is a regional REST API with three routes behind an API key and the request validator", () => {
      expect(one(all, T.restApi).inputs.endpointConfiguration).to.deep.equal({ types: "REGIONAL" });
      const validator = one(all, T.validator);
      expect(validator.inputs).to.deep.include({
        validateRequestBody: true,
        validateRequestParameters: true,
      });
      const real = methods().filter((m) => m.inputs.httpMethod !== "OPTIONS");
      expect(real.map((m) => m.inputs.httpMethod).sort()).to.deep.equal(["GET", "GET", "POST"]);
      for (const m of real) {
        expect(m.inputs, m.name).to.deep.include({
          apiKeyRequired: true,
          authorization: "NONE",
          requestValidatorId: validator.state.id,
        });
      }
      const post = real.find((m) => m.inputs.httpMethod === "POST");
      expect(post?.inputs.requestModels).to.deep.equal({ "application/json": "CreateOrder" });
      const list = real.find((m) => m.name.includes("list-orders"));
      expect(list?.inputs.requestParameters).to.deep.equal({
        "method.request.querystring.status": false,
        "method.request.querystring.limit": false,
        "method.request.querystring.nextToken": false,
      });
    });

    it("the body model is the handler's valibot schema as draft-04 JSON Schema", () => {
      const model = one(all, T.model);
      expect(JSON.parse(String(model.inputs.schema))).to.deep.equal(createOrderModelSchema());
      expect(createOrderModelSchema().$schema).to.equal("http://json-schema.org/draft-04/schema#");
    });

    it("each route proxies to its own function, which only that method of this API may invoke", () => {
      const integrations = byType(all, T.integration).filter((i) => i.inputs.type === "AWS_PROXY");
      expect(integrations).to.have.length(3);
      const routes: [string, string, string][] = [
        ["createOrder", "POST", "/orders"],
        ["listOrders", "GET", "/orders"],
        ["getOrder", "GET", "/orders/*"],
      ];
      for (const [handlerId, method, path] of routes) {
        const fn = functionFor(all, handlerId);
        expect(integrations.map((i) => i.inputs.uri)).to.include(fn.state.invokeArn);
        const permission = byType(all, T.permission).find((p) => p.inputs.function === fn.state.name);
        expect(permission?.inputs).to.deep.include({
          principal: "apigateway.amazonaws.com",
          action: "lambda:InvokeFunction",
        });
        expect(permission?.inputs.sourceArn).to.equal(
          `${one(all, T.restApi).state.executionArn}/*/${method}${path}`,
        );
      }
    });

    it("answers CORS preflights itself, echoing only allowed origins", () => {
      const options = methods().filter((m) => m.inputs.httpMethod === "OPTIONS");
      expect(options).to.have.length(2);
      for (const m of options) expect(m.inputs.apiKeyRequired).to.equal(false);
      for (const r of byType(all, T.methodResponse)) {
        expect(r.inputs.statusCode).to.equal("204");
        expect(r.inputs.responseParameters).to.have.property(
          "method.response.header.Access-Control-Allow-Origin",
          false,
        );
      }
      const mocks = byType(all, T.integration).filter((i) => i.inputs.type === "MOCK");
      expect(mocks).to.have.length(2);
      for (const r of byType(all, T.integrationResponse)) {
        const template = (r.inputs.responseTemplates as Record<string, string>)["application/json"];
        expect(template).to.include('#set($allowed = ["http://localhost:3000"])');
        expect(template).to.include("Access-Control-Allow-Origin = $origin");
        expect(r.inputs.responseParameters).to.deep.include({
          "method.response.header.Access-Control-Allow-Headers": "'Content-Type,X-Api-Key,Idempotency-Key'",
        });
      }
    });

    it("gateway errors (bad key, failed validation, 5xx) carry CORS headers and the contract's bodies", () => {
      const responses = Object.fromEntries(
        byType(all, T.gatewayResponse).map((r) => [r.inputs.responseType, r.inputs]),
      );
      expect(Object.keys(responses).sort()).to.deep.equal([
        "BAD_REQUEST_BODY",
        "BAD_REQUEST_PARAMETERS",
        "DEFAULT_4XX",
        "DEFAULT_5XX",
      ]);
      for (const r of Object.values(responses) as { responseParameters: Record<string, string> }[]) {
        expect(r.responseParameters["gatewayresponse.header.Access-Control-Allow-Origin"]).to.equal(
          "'http://localhost:3000'",
        );
      }
      expect(responses.BAD_REQUEST_BODY.responseTemplates).to.deep.equal({
        "application/json": GATEWAY_RESPONSE_TEMPLATES.badRequestBody,
      });
      expect(responses.BAD_REQUEST_BODY.statusCode).to.equal("400");
    });

    it("the stage has KMS access logs, X-Ray, data trace off and the API's total capacity as its throttle", () => {
      const stage = one(all, T.stage);
      const logs = one(all, T.logGroup, "-access-logs");
      expect(stage.inputs.xrayTracingEnabled).to.equal(true);
      expect((stage.inputs.accessLogSettings as { destinationArn: string }).destinationArn).to.equal(
        logs.state.arn,
      );
      expect(logs.inputs.kmsKeyId).to.equal(keyArn);
      const settings = one(all, T.methodSettings).inputs.settings as Record<string, unknown>;
      expect(settings).to.deep.include({
        dataTraceEnabled: false,
        metricsEnabled: true,
        throttlingRateLimit: num("apiStageRateLimit"),
        throttlingBurstLimit: num("apiStageBurstLimit"),
      });
      expect(DEFAULTS.apiStageRateLimit).to.be.greaterThan(num("apiRateLimit"));
    });

    it("a usage plan throttles and caps the stack's API key", () => {
      const plan = one(all, T.usagePlan);
      expect(plan.inputs.throttleSettings).to.deep.equal({
        rateLimit: num("apiRateLimit"),
        burstLimit: num("apiBurstLimit"),
      });
      expect(plan.inputs.quotaSettings).to.deep.equal({
        limit: num("apiQuotaLimit"),
        period: dev["orderflow:apiQuotaPeriod"],
      });
      const key = one(all, T.usagePlanKey);
      expect(key.inputs).to.deep.include({
        keyId: one(all, T.apiKey).state.id,
        usagePlanId: plan.state.id,
        keyType: "API_KEY",
      });
    });
  });

  describe("notifications", () => {
    it("the topic is CMK-encrypted; send_notification knows its ARN", () => {
      const topic = one(all, T.topic, "-topic");
      expect(topic.inputs.kmsMasterKeyId).to.equal(keyArn);
      const env = (
        functionFor(all, "sendNotification").inputs.environment as { variables: Record<string, string> }
      ).variables;
      expect(env.NOTIFICATION_TOPIC_ARN).to.equal(topic.state.arn);
    });
  });

  it("uses the mocked region in ARNs (no `undefined` from a missing aws:region)", () => {
    const text = JSON.stringify(all.filter((r) => r.type.startsWith("aws:")).map((r) => r.inputs));
    expect(text).not.to.include("undefined");
    expect(text).to.include(`:${MOCK_REGION}:`);
  });
});
