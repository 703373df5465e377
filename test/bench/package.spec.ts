/**
 * The esbuild bundle the package benchmark compares against (bench/package.ts) is built for the
 * Node major Lambda runs, read from each registered function, so a runtime bump moves both.
 */
import { expect } from "chai";
import { bundleOptions, esbuildTarget } from "../../bench/package";
import { LAMBDA_RUNTIME } from "../../components/orderFunction";
import { captureProgram, T } from "../support/program";

describe("bench: package bundle target", () => {
  it("maps each Lambda Node.js runtime to its Node major, and refuses anything else", () => {
    expect(esbuildTarget("nodejs22.x")).to.equal("node22");
    expect(esbuildTarget("nodejs24.x")).to.equal("node24");
    for (const bad of ["python3.13", "nodejs", "nodejs24", "nodejs24.x ", "provided.al2023"]) {
      expect(() => esbuildTarget(bad), bad).to.throw(/not a Lambda Node.js runtime/);
    }
  });

  it("bundles every registered function for the Node major of LAMBDA_RUNTIME", async () => {
    const major = /^nodejs(\d+)\.x$/.exec(LAMBDA_RUNTIME)?.[1];
    expect(major, LAMBDA_RUNTIME).to.be.a("string");
    const functions = (await captureProgram()).filter((r) => r.type === T.fn);
    expect(functions).to.have.length.greaterThan(5);
    for (const fn of functions) {
      expect(fn.inputs.runtime, fn.name).to.equal(LAMBDA_RUNTIME);
      expect(bundleOptions(fn, "/nonexistent/index.js").target, fn.name).to.equal(`node${major}`);
    }
  });
});
