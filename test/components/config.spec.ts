import { expect } from "chai";
import {
  ConfigError,
  DEFAULTS,
  loadStackConfig,
  parseStackConfig,
  visibilityTimeoutSeconds,
} from "../../config";
import { readStackConfig } from "../../program/stackConfig";

const valid = { region: "us-east-1", allowedOrigins: ["https://shop.example.com"] };

function issuesOf(raw: Record<string, unknown>): { key: string; message: string }[] {
  try {
    parseStackConfig(raw);
  } catch (error) {
    expect(error).to.be.instanceOf(ConfigError);
    return (error as ConfigError).issues;
  }
  expect.fail("expected a ConfigError");
}

describe("config", () => {
  it("applies production defaults to a minimal stack", () => {
    const config = parseStackConfig(valid);
    expect(config).to.deep.equal({ ...DEFAULTS, ...valid });
    expect(config.deletionProtection).to.equal(true);
    expect(visibilityTimeoutSeconds(config)).to.equal(180);
  });

  it("accepts the committed dev stack file", () => {
    const runtime = readStackConfig("dev");
    const raw = Object.fromEntries(
      Object.entries(runtime)
        .filter(([key]) => key.startsWith("orderflow:"))
        .map(([key, value]) => [key.slice("orderflow:".length), JSON.parse(JSON.stringify(tryJson(value)))]),
    );
    const config = parseStackConfig({ ...raw, region: runtime["aws:region"] });
    expect(config.catalogue.map((c) => c.sku)).to.include("SKU-1");
    expect(config.deletionProtection).to.equal(false);
  });

  const bad: [string, Record<string, unknown>, string][] = [
    ["region", { region: "mars-1" }, "region"],
    ["origin with a path", { allowedOrigins: ["https://x.example.com/app"] }, "allowedOrigins.0"],
    ["* mixed with origins", { allowedOrigins: ["*", "https://a.example.com"] }, "allowedOrigins"],
    ["no origins", { allowedOrigins: [] }, "allowedOrigins"],
    ["maxReceiveCount below 5", { maxReceiveCount: 2 }, "maxReceiveCount"],
    ["alarm period CloudWatch does not offer", { alarmPeriodSeconds: 45 }, "alarmPeriodSeconds"],
    ["5xx percentage above 100", { alarmApi5xxPercent: 150 }, "alarmApi5xxPercent"],
    ["sweep margin under a minute", { sweepMarginSeconds: 5 }, "sweepMarginSeconds"],
    ["retention not offered by CloudWatch", { logRetentionDays: 10 }, "logRetentionDays"],
    ["bad e-mail", { notificationEmails: ["nope"] }, "notificationEmails.0"],
    ["bad SMS number", { notificationSmsNumbers: ["5555550100"] }, "notificationSmsNumbers.0"],
    ["fractional price", { catalogue: [{ sku: "A", price: 1.5, stock: 1 }] }, "catalogue.0.price"],
    [
      "duplicate skus",
      {
        catalogue: [
          { sku: "A", price: 1, stock: 1 },
          { sku: "A", price: 2, stock: 1 },
        ],
      },
      "catalogue",
    ],
    ["unknown key", { colour: "blue" }, "colour"],
    ["quota period", { apiQuotaPeriod: "YEAR" }, "apiQuotaPeriod"],
    // All clients together must get at least one client's rate (the stage throttle caps the keys).
    ["stage rate below one key's", { apiRateLimit: 50, apiStageRateLimit: 49 }, "apiStageRateLimit"],
    ["stage burst below one key's", { apiBurstLimit: 100, apiStageBurstLimit: 99 }, "apiStageBurstLimit"],
  ];
  for (const [label, change, key] of bad) {
    it(`names the key for a bad value: ${label}`, () => {
      const issues = issuesOf({ ...valid, ...change });
      expect(issues.map((i) => i.key)).to.include(key);
    });
  }

  it("refuses a heartbeat shorter than the queue's visibility timeout", () => {
    const issues = issuesOf({ ...valid, paymentFunctionTimeoutSeconds: 60, heartbeatSeconds: 300 });
    expect(issues[0].message).to.match(/heartbeatSeconds must exceed the queue visibility timeout/);
  });

  it("refuses a callback timeout not above the heartbeat", () => {
    const issues = issuesOf({ ...valid, heartbeatSeconds: 600, callbackTimeoutSeconds: 600 });
    expect(issues[0].message).to.match(/callbackTimeoutSeconds must be greater than heartbeatSeconds/);
  });

  describe("payment consumer capacity keys, checked together", () => {
    it("accepts the defaults and a larger consistent set", () => {
      const c = parseStackConfig({
        ...valid,
        paymentBatchSize: 40,
        paymentRecordConcurrency: 20,
        paymentRecordBudgetSeconds: 12,
        paymentMaxConcurrency: 200,
        paymentReservedConcurrency: 200,
      });
      expect(c).to.include({ paymentBatchSize: 40, paymentReservedConcurrency: 200 });
    });

    it("refuses a batch that cannot finish within the timeout", () => {
      // 20 records, 5 at a time, 10 s each: 40 s of work for a 30 s function.
      const issues = issuesOf({
        ...valid,
        paymentBatchSize: 20,
        paymentRecordConcurrency: 5,
        paymentRecordBudgetSeconds: 10,
      });
      expect(issues.map((i) => i.message)).to.deep.equal([
        "a full batch must fit the timeout: ceil(paymentBatchSize / paymentRecordConcurrency) x paymentRecordBudgetSeconds <= paymentFunctionTimeoutSeconds",
      ]);
      // The same batch at 7 at a time (3 waves of 10 s) fits exactly.
      expect(() =>
        parseStackConfig({ ...valid, paymentBatchSize: 20, paymentRecordConcurrency: 7 }),
      ).not.to.throw();
    });

    it("refuses a record budget that leaves no record able to start", () => {
      const issues = issuesOf({ ...valid, paymentRecordBudgetSeconds: 30, paymentRecordConcurrency: 10 });
      expect(issues[0].message).to.match(/paymentRecordBudgetSeconds must be less than/);
    });

    it("refuses reserved concurrency below the mapping's maximum concurrency", () => {
      const issues = issuesOf({ ...valid, paymentMaxConcurrency: 50, paymentReservedConcurrency: 49 });
      expect(issues[0].message).to.match(/paymentReservedConcurrency must be at least paymentMaxConcurrency/);
    });

    it("names the key of an out-of-range value", () => {
      const keys = issuesOf({ ...valid, paymentMaxConcurrency: 1, paymentBatchSize: 0 }).map((i) => i.key);
      expect(keys).to.have.members(["paymentMaxConcurrency", "paymentBatchSize"]);
    });
  });

  it("says every problem at once in the error message", () => {
    expect(() => parseStackConfig({ ...valid, maxReceiveCount: 0, logRetentionDays: 2 })).to.throw(
      /maxReceiveCount[\s\S]*logRetentionDays|logRetentionDays[\s\S]*maxReceiveCount/,
    );
  });
});

function tryJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

describe("loadStackConfig", () => {
  const stack = {
    "aws:region": "eu-west-1",
    "orderflow:allowedOrigins": '["https://shop.example.com"]',
    "orderflow:maxReceiveCount": "7",
    "orderflow:deletionProtection": "false",
    "pulumi:tags": '{"team":"orders"}',
  };

  it("reads the project's keys as Pulumi hands them (JSON text) and aws:region", () => {
    const config = loadStackConfig(stack, "orderflow");
    expect(config).to.deep.include({ region: "eu-west-1", maxReceiveCount: 7, deletionProtection: false });
    expect(config.allowedOrigins).to.deep.equal(["https://shop.example.com"]);
  });

  it("takes the region from the AWS provider's environment when the stack sets none", () => {
    const { "aws:region": _region, ...noRegion } = stack;
    expect(loadStackConfig(noRegion, "orderflow", { AWS_REGION: "ap-southeast-2" }).region).to.equal(
      "ap-southeast-2",
    );
    expect(loadStackConfig(noRegion, "orderflow", { AWS_DEFAULT_REGION: "us-gov-west-1" }).region).to.equal(
      "us-gov-west-1",
    );
    expect(loadStackConfig(stack, "orderflow", { AWS_REGION: "ap-southeast-2" }).region).to.equal(
      "eu-west-1",
    );
  });

  it("says how to set a region when neither the stack nor the environment has one", () => {
    const { "aws:region": _region, ...noRegion } = stack;
    expect(() => loadStackConfig(noRegion, "orderflow", {})).to.throw(ConfigError, /region: .*aws:region/);
  });

  it("refuses a misspelt key instead of leaving the setting at its default", () => {
    expect(() => loadStackConfig({ ...stack, "orderflow:maxRecieveCount": "9" }, "orderflow")).to.throw(
      ConfigError,
      /maxRecieveCount/,
    );
  });
});
