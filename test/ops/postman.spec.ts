/**
 * The Postman collection's generated tests and chaining, read statically (no HTTP), and the smoke
 * script's command line. test/e2e/postman.spec.ts runs the collection for real.
 */
import { expect } from "chai";
import { writeFileSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { parse as parseYaml } from "yaml";
import { buildOpenApiDocument, ROOT } from "../../scripts/openapi";
import { buildPostmanCollection, FOLDERS, SETTINGS } from "../../scripts/postman";
import { settingsFromArgs, stackOutputs, targetFromStackOutputs, type Exec } from "../../scripts/smoke";
import { SIMULATOR_TOKENS } from "../../functions/shared/payments";
import { readFileSync } from "node:fs";

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const OPTIONS = { chargedToken: "tok_visa", declinedToken: SIMULATOR_TOKENS.decline };
const build = (doc: Json = buildOpenApiDocument()) => buildPostmanCollection(doc, OPTIONS) as Json;

interface Req {
  folder: string;
  name: string;
  method: string;
  path: string;
  pre: string;
  test: string;
  raw: string;
}

function requests(collection: Json): Req[] {
  return (collection.item as Json[]).flatMap((folder) =>
    (folder.item as Json[]).map((i) => {
      const script = (listen: string) =>
        ((i.event as Json[]).find((e) => e.listen === listen)?.script.exec ?? []).join("\n");
      return {
        folder: folder.name,
        name: i.name,
        method: i.request.method,
        path: `/${(i.request.url.path as string[]).join("/")}`,
        pre: script("prerequest"),
        test: script("test"),
        raw: JSON.stringify(i.request),
      };
    }),
  );
}

const statusesOf = (r: Req) => [...r.test.matchAll(/to\.have\.status\((\d+)\)/g)].map((m) => Number(m[1]));

describe("the Postman collection's tests, generated from openapi.json", () => {
  const doc = buildOpenApiDocument() as Json;
  const all = requests(build(doc));

  it("every request asserts one status that the document declares for its route, and the body schema", () => {
    expect(all.length).to.be.greaterThan(15);
    for (const r of all) {
      const route = r.path.replace(/\{\{\w+\}\}|:\w+/, "{orderId}");
      const declared = Object.keys(doc.paths[route][r.method.toLowerCase()].responses).map(Number);
      const asserted = statusesOf(r);
      expect(asserted, r.name).to.have.length(1);
      expect(declared, r.name).to.include(asserted[0]);
      expect(r.test, r.name).to.match(/pm\.response\.to\.have\.jsonSchema\(\{/);
    }
  });

  it("the Location header is checked on every answer the document gives one (the 201s)", () => {
    for (const r of all.filter((x) => statusesOf(x)[0] === 201))
      expect(r.test, r.name).to.include('pm.response.headers.get("Location")');
    for (const r of all.filter((x) => statusesOf(x)[0] !== 201))
      expect(r.test, r.name).to.not.include("Location");
  });

  it("the flow reaches every answer of design §8 a client can cause: 200, 201, 400, 403, 404, 409, 422", () => {
    const flow = all.filter((r) => r.folder === FOLDERS.flow);
    expect([...new Set(flow.flatMap(statusesOf))].sort()).to.deep.equal([200, 201, 400, 403, 404, 409, 422]);
  });

  it("is chained: every {{variable}} a request sends is a run setting or set earlier in its own folder", () => {
    const settings = new Set(Object.keys(SETTINGS));
    for (const folder of Object.values(FOLDERS)) {
      const set = new Set<string>();
      for (const r of all.filter((x) => x.folder === folder)) {
        for (const m of r.pre.matchAll(/collectionVariables\.set\("(\w+)"/g)) set.add(m[1]);
        const used = [...r.raw.matchAll(/\{\{(\w+)\}\}/g)].map((m) => m[1]);
        for (const v of used)
          expect(settings.has(v) || set.has(v), `${folder} / ${r.name} uses {{${v}}}`).to.equal(true);
        for (const m of r.test.matchAll(/collectionVariables\.set\("(\w+)"/g)) set.add(m[1]);
      }
    }
  });

  it("every request that uses a chained variable refuses to run without it (no GET /orders/ with an empty id)", () => {
    for (const r of all) {
      const chained = [...r.raw.matchAll(/\{\{(\w+)\}\}/g)]
        .map((m) => m[1])
        .filter((v) => !(v in SETTINGS) && !r.pre.includes(`collectionVariables.set("${v}"`));
      for (const v of chained)
        expect(r.pre, `${r.name}: ${v}`).to.include(`if (!pm.collectionVariables.get("${v}")) {`);
      if (chained.length) expect(r.pre, r.name).to.include("pm.execution.skipRequest()");
    }
  });

  it("every poll loop is bounded by maxPolls, its counter reset when the flow starts", () => {
    const loops = all.filter((r) => r.test.includes("setNextRequest"));
    expect(loops).to.have.length(4);
    const first = all.find((r) => r.folder === FOLDERS.flow)!;
    for (const r of loops) {
      expect(r.test, r.name).to.include('pm.variables.get("maxPolls")');
      const counter = /collectionVariables\.set\("(\w+)", polls \+ 1\)/.exec(r.test)?.[1];
      expect(counter, r.name).to.be.a("string");
      expect(first.pre, `${r.name}: ${counter}`).to.match(
        new RegExp(`\\[[^\\]]*"${counter}"[^\\]]*\\]\\.forEach`),
      );
    }
  });

  const declinedPolls = {
    pollsDeclined: "Poll the declined order until its compensation is final",
    pollsDeclined2: "Poll the second declined order until its compensation is final",
  };
  for (const [counterName, name] of Object.entries(declinedPolls))
    describe(`${name}, run against a stubbed pm`, () => {
      const poll = all.find((r) => r.name === name)!;
      const running = {
        orderId: "o-1",
        status: "FAILED",
        failure: { reason: "PaymentDeclined", refunded: false, restocked: true },
      };
      const final = {
        ...running,
        failure: { ...running.failure, compensatedAt: "2026-11-28T18:00:00.000Z" },
      };

      /** One run of the request's test script on `body`: whether it asked to poll again, and its tests. */
      function runPoll(body: object, polls = 0) {
        const vars = new Map<string, unknown>([[counterName, polls]]);
        const results: Record<string, string | undefined> = {};
        let again: string | undefined;
        const pm = {
          info: { requestName: poll.name },
          response: { code: 200, json: () => body, to: { have: { status: () => {}, jsonSchema: () => {} } } },
          variables: { get: (k: string) => ({ maxPolls: "60", pollIntervalMs: "0" })[k] },
          collectionVariables: {
            get: (k: string) => vars.get(k),
            set: (k: string, v: unknown) => vars.set(k, v),
          },
          execution: { setNextRequest: (name: string) => (again = name) },
          expect,
          test: (name: string, fn: () => void) => {
            try {
              fn();
              results[name] = undefined;
            } catch (e) {
              results[name] = (e as Error).message;
            }
          },
        };
        new Function("pm", poll.test)(pm);
        return { again, results, counter: vars.get(counterName) };
      }

      it("polls again while FAILED has no compensatedAt, even with the stock already back", () => {
        const r = runPoll(running);
        expect(r.again).to.equal(poll.name);
        expect(r.counter).to.equal(1);
        expect(Object.keys(r.results)).to.not.include("compensation is final: failure.compensatedAt is set");
      });

      it("stops on compensatedAt and asserts the final flags then", () => {
        const r = runPoll(final, 3);
        expect(r.again).to.equal(undefined);
        expect(r.counter).to.equal(0);
        expect(r.results).to.deep.include({
          "compensation is final: failure.compensatedAt is set": undefined,
          "failure: PaymentDeclined, nothing refunded (nothing charged), stock returned": undefined,
        });
      });

      it("gives up after maxPolls and fails on the missing compensatedAt", () => {
        const r = runPoll(running, 59);
        expect(r.again).to.equal(undefined);
        expect(r.results["compensation is final: failure.compensatedAt is set"]).to.be.a("string");
      });
    });

  it("follows the document: a changed status or schema changes the assertions", () => {
    const changed = JSON.parse(JSON.stringify(doc)) as Json;
    const post = changed.paths["/orders"].post.responses;
    post["412"] = post["409"];
    delete post["409"];
    changed.components.schemas.Order.required.push("channel");
    const rs = requests(build(changed));
    const conflict = rs.find((r) => r.name === "Replay the key with another body: conflict")!;
    expect(statusesOf(conflict)).to.deep.equal([412]);
    const poll = rs.find((r) => r.name === "Poll the order until it is terminal")!;
    expect(poll.test).to.include('"channel"');
  });

  it("refuses to build when the document lacks an answer the flow asserts", () => {
    const changed = JSON.parse(JSON.stringify(doc)) as Json;
    delete changed.paths["/orders"].post.responses["422"];
    expect(() => build(changed)).to.throw("POST /orders has no response with a UnknownSku body");
    const noDecline = JSON.parse(JSON.stringify(doc)) as Json;
    noDecline.components.schemas.Failure.properties.reason.enum = ["Timeout"];
    expect(() => build(noDecline)).to.throw("PaymentDeclined");
    const noCompensatedAt = JSON.parse(JSON.stringify(doc)) as Json;
    delete noCompensatedAt.components.schemas.Failure.properties.compensatedAt;
    expect(() => build(noCompensatedAt)).to.throw("Failure has no property compensatedAt");
  });

  it("the placed orders use a token the simulator charges, the declined ones its decline token", () => {
    const bodies = all.filter((r) => r.method === "POST").map((r) => r.raw);
    expect(bodies.some((b) => b.includes("tok_visa"))).to.equal(true);
    expect(bodies.some((b) => b.includes(SIMULATOR_TOKENS.decline))).to.equal(true);
    expect(bodies.some((b) => b.includes(SIMULATOR_TOKENS.fail))).to.equal(false);
  });
});

describe("npm run smoke: the target", () => {
  const outputs = {
    apiUrl: "https://abc.execute-api.us-east-1.amazonaws.com/v1/",
    apiKey: "k-123",
    queueUrl: "q",
  };

  it("--stack reads apiUrl and apiKey with `pulumi stack output --json --show-secrets --stack <name>`", () => {
    const calls: string[][] = [];
    const exec: Exec = (file, args) => {
      calls.push([file, ...args]);
      return JSON.stringify(outputs);
    };
    const run = settingsFromArgs(["--stack", "acme/orderflow/dev", "--sku", "SKU-2"], exec);
    expect(calls).to.deep.equal([
      ["pulumi", "stack", "output", "--json", "--show-secrets", "--stack", "acme/orderflow/dev"],
    ]);
    expect(run.settings).to.deep.equal({
      baseUrl: "https://abc.execute-api.us-east-1.amazonaws.com/v1",
      apiKey: "k-123",
      sku: "SKU-2",
    });
    expect(stackOutputs("s", exec)).to.deep.equal(outputs);
  });

  it("--stack-outputs reads a file; --url with --api-key needs no Pulumi", () => {
    const file = path.join(mkdtempSync(path.join(tmpdir(), "smoke-")), "outputs.json");
    writeFileSync(file, JSON.stringify(outputs));
    const never: Exec = () => {
      throw new Error("no pulumi here");
    };
    expect(settingsFromArgs(["--stack-outputs", file], never).settings.apiKey).to.equal("k-123");
    const direct = settingsFromArgs(
      ["--url", "http://127.0.0.1:4000", "--api-key", "K", "--folder", FOLDERS.flow, "--max-polls", "5"],
      never,
    );
    expect(direct).to.deep.equal({
      settings: { baseUrl: "http://127.0.0.1:4000", apiKey: "K", maxPolls: "5" },
      folder: FOLDERS.flow,
    });
  });

  it("says what is missing: no target, or outputs without apiUrl or with the key still secret", () => {
    expect(() => settingsFromArgs([], () => "{}")).to.throw("no target");
    expect(() => targetFromStackOutputs({ apiKey: "k" })).to.throw("apiUrl and apiKey");
    expect(() => targetFromStackOutputs({ apiUrl: "https://x", apiKey: "[secret]" })).to.throw(
      "--show-secrets",
    );
  });
});

describe("the deploy workflow example runs the smoke test after pulumi up", () => {
  const workflow = parseYaml(
    readFileSync(path.join(ROOT, ".github", "workflows", "deploy.yml"), "utf8"),
  ) as Json;

  it("a smoke job needs the deploy job and runs npm run smoke on the same stack", () => {
    const jobs = workflow.jobs as Json;
    const up = Object.entries(jobs).find(([, j]) =>
      (j.steps as Json[]).some((s) => s.with?.command === "up"),
    );
    expect(up, "a job with pulumi/actions command: up").to.not.equal(undefined);
    const smoke = jobs.smoke as Json;
    expect([smoke.needs].flat()).to.include(up![0]);
    const step = (smoke.steps as Json[]).find((s) => String(s.run ?? "").includes("npm run smoke"));
    expect(step?.run).to.match(/npm run smoke -- --stack "\$STACK"/);
    expect(step?.env.STACK).to.equal("${{ vars.PULUMI_STACK }}");
    expect(
      String((up![1].steps as Json[]).find((s) => s.with?.command === "up")?.with["stack-name"]),
    ).to.equal("${{ vars.PULUMI_STACK }}");
  });
});
