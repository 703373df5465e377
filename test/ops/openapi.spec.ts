import { expect } from "chai";
import { readFileSync } from "node:fs";
import { Validator } from "@seriousme/openapi-schema-validator";
import Ajv from "ajv-draft-04";
import { ROUTES } from "../../components/routes";
import { createOrderModelSchema } from "../../components/apiModel";
import {
  buildOpenApiDocument,
  CREATE_ORDER_EXAMPLE,
  generatedFiles,
  OPENAPI_FILE,
  POSTMAN_FILE,
} from "../../scripts/openapi";
import { FOLDERS, POSTMAN_SCHEMA } from "../../scripts/postman";
import { byType, captureProgram, RegisteredResource, T } from "../support/program";

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

describe("the API contract: openapi.json and the Postman collection", function () {
  this.timeout(120_000);
  const doc = buildOpenApiDocument() as Json;

  it("the committed openapi.json and Postman collection are what the code generates (run `npm run openapi`)", () => {
    for (const { file, text } of generatedFiles()) {
      expect(readFileSync(file, "utf8"), `${file} is out of date: npm run openapi`).to.equal(text);
    }
  });

  it("is a valid OpenAPI 3.0 document (@seriousme/openapi-schema-validator)", async () => {
    const result = await new Validator().validate(JSON.parse(readFileSync(OPENAPI_FILE, "utf8")));
    expect(result.errors ?? [], JSON.stringify(result.errors)).to.deep.equal([]);
    expect(result.valid).to.equal(true);
  });

  it("the validator does reject a broken document (the check can fail)", async () => {
    const broken = JSON.parse(JSON.stringify(doc));
    delete broken.paths["/orders"].post.responses;
    expect((await new Validator().validate(broken)).valid).to.equal(false);
  });

  it("every operation requires the API key API Gateway checks (x-api-key header), none opts out", () => {
    const operations = Object.entries(doc.paths as Json).flatMap(([path, ops]) =>
      Object.entries(ops as Json).map(([method, op]) => ({ what: `${method} ${path}`, op: op as Json })),
    );
    expect(operations).to.have.length(ROUTES.length);
    for (const { what, op } of operations) {
      const security = (op.security ?? doc.security) as Json[];
      expect(security, what).to.be.an("array").that.is.not.empty;
      for (const requirement of security)
        for (const name of Object.keys(requirement))
          expect(doc.components.securitySchemes[name], `${what}: ${name}`).to.deep.equal({
            type: "apiKey",
            in: "header",
            name: "x-api-key",
          });
    }
  });

  it("the example body satisfies the API Gateway model (distinct-SKU rule aside)", () => {
    const validate = new Ajv({ strict: false, logger: false }).compile(createOrderModelSchema());
    expect(validate(CREATE_ORDER_EXAMPLE), JSON.stringify(validate.errors)).to.equal(true);
    expect(validate({ ...CREATE_ORDER_EXAMPLE, extra: 1 })).to.equal(false);
  });

  it("documents the error bodies of design §8 per route", () => {
    const post = doc.paths["/orders"].post;
    expect(Object.keys(post.responses)).to.deep.equal(["201", "400", "403", "409", "422", "429", "500"]);
    expect(post.responses["201"].headers).to.have.property("Location");
    expect(Object.keys(doc.paths["/orders/{orderId}"].get.responses)).to.include("404");
    expect(doc.components.schemas.ValidationError.required).to.deep.equal(["error", "message", "issues"]);
    expect(doc.components.schemas.Order.properties.status.enum).to.deep.equal([
      "NEW",
      "PROCESSING",
      "PAID",
      "COMPLETED",
      "FAILED",
    ]);
  });

  describe("matches the API Gateway resources the program registers", () => {
    let all: RegisteredResource[];
    /** Method resources with their full path, rebuilt from the Resource tree. */
    let methods: { path: string; method: RegisteredResource }[];

    before(async () => {
      all = await captureProgram();
      const resources = byType(all, "aws:apigateway/resource:Resource");
      const api = byType(all, T.restApi)[0];
      const pathOf = (id: unknown): string => {
        if (id === api.state.rootResourceId) return "";
        const r = resources.find((x) => x.state.id === id);
        if (!r) throw new Error(`unknown resource ${String(id)}`);
        return `${pathOf(r.inputs.parentId)}/${String(r.inputs.pathPart)}`;
      };
      methods = byType(all, T.method)
        .filter((m) => m.inputs.httpMethod !== "OPTIONS")
        .map((method) => ({ path: pathOf(method.inputs.resourceId), method }));
    });

    it("the same paths and methods, one operation per route", () => {
      const documented = Object.entries(doc.paths as Record<string, Json>).flatMap(([p, ops]) =>
        Object.keys(ops).map((m) => `${m.toUpperCase()} ${p}`),
      );
      const deployed = methods.map((m) => `${String(m.method.inputs.httpMethod)} ${m.path}`);
      expect(documented.sort()).to.deep.equal(deployed.sort());
      expect(documented).to.have.length(ROUTES.length);
    });

    it("the same parameters (name, place, required) and body model as each method", () => {
      const place: Record<string, string> = { querystring: "query", path: "path", header: "header" };
      for (const { path, method } of methods) {
        const op = doc.paths[path][String(method.inputs.httpMethod).toLowerCase()];
        const deployed = Object.entries(
          (method.inputs.requestParameters ?? {}) as Record<string, boolean>,
        ).map(([k, required]) => {
          const [, , where, name] = k.split(".");
          return `${place[where]}:${name}:${required}`;
        });
        const documented = (op.parameters as Json[]).map((p) => `${p.in}:${p.name}:${p.required}`);
        expect(documented.sort(), path).to.deep.equal(deployed.sort());
        expect(method.inputs.apiKeyRequired).to.equal(true);
        expect(op.requestBody !== undefined, path).to.equal(method.inputs.requestModels !== undefined);
      }
      const model = byType(all, T.model)[0];
      const { $schema: _s, title: _t, ...schema } = JSON.parse(String(model.inputs.schema));
      expect(doc.components.schemas.CreateOrder).to.deep.equal(schema);
    });
  });

  describe("Postman collection", () => {
    const collection = JSON.parse(readFileSync(POSTMAN_FILE, "utf8")) as Json;

    it("is a v2.1 collection with baseUrl and apiKey variables, sending the key as x-api-key", () => {
      expect(collection.info.schema).to.equal(POSTMAN_SCHEMA);
      expect(collection.variable.map((v: Json) => v.key)).to.include.members(["baseUrl", "apiKey"]);
      expect(collection.auth).to.deep.equal({
        type: "apikey",
        apikey: [
          { key: "key", value: "x-api-key", type: "string" },
          { key: "value", value: "{{apiKey}}", type: "string" },
          { key: "in", value: "header", type: "string" },
        ],
      });
    });

    it("has one request per route, on {{baseUrl}}, with the example body for POST /orders", () => {
      const folder = (collection.item as Json[]).find((f) => f.name === FOLDERS.api);
      const requests = (folder?.item as Json[]).map((i) => i.request);
      const got = requests.map(
        (r) => `${r.method} /${(r.url.path as string[]).join("/").replace(/:(\w+)/g, "{$1}")}`,
      );
      expect(got.sort()).to.deep.equal(ROUTES.map((r) => `${r.method} ${r.path}`).sort());
      for (const r of requests) expect(r.url.raw).to.match(/^\{\{baseUrl\}\}\/orders/);
      const post = requests.find((r) => r.method === "POST");
      // The example, on the SKU the run is given (one unit: a smoke run on a stack takes little stock).
      expect(JSON.parse(post.body.raw)).to.deep.equal({
        ...CREATE_ORDER_EXAMPLE,
        items: [{ sku: "{{sku}}", quantity: 1 }],
      });
      const get = requests.find((r) => r.url.path.length === 2);
      expect(get.url.variable).to.deep.equal([{ key: "orderId", value: "{{orderId}}" }]);
    });
  });
});
