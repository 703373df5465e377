/**
 * The class behind issue 9's partition fixes: an ARN written with a fixed `arn:aws:` prefix is
 * wrong in GovCloud and China. The program takes the partition from the provider and the offline
 * runtime from the ARNs the program registered; no code path may spell the partition itself.
 */
import { expect } from "chai";
import * as fs from "node:fs";
import * as path from "node:path";

const ROOT = path.join(__dirname, "..", "..");
const SOURCES = ["index.ts", "config.ts", "components", "functions", "workflow", "local", "program"];

function tsFiles(entry: string): string[] {
  const full = path.join(ROOT, entry);
  if (fs.statSync(full).isFile()) return [full];
  return fs
    .readdirSync(full)
    .flatMap((f) => (/\.(ts|js)$/.test(f) || !f.includes(".") ? tsFiles(path.join(entry, f)) : []));
}

/** The code of a line without its `//` comment, and nothing of a `/** ... *\/` or ` * ` doc line. */
function codeOf(line: string): string {
  const trimmed = line.trim();
  if (trimmed.startsWith("*") || trimmed.startsWith("/*") || trimmed.startsWith("//")) return "";
  return line.replace(/\s\/\/.*$/, "");
}

describe("no hard-coded partition in code that builds ARNs", () => {
  it("finds the files it scans (the scan itself can see a literal)", () => {
    expect(tsFiles("local").length).to.be.greaterThan(5);
    expect(codeOf("const a = `arn:aws:sqs:${r}`;")).to.contain("arn:aws:");
    expect(codeOf("/** `arn:aws:lambda:...` */")).to.equal("");
  });

  it("no program, offline-runtime or workflow source writes `arn:aws:` outside a comment", () => {
    const hits = SOURCES.flatMap(tsFiles).flatMap((file) =>
      fs
        .readFileSync(file, "utf8")
        .split("\n")
        .map((line, i) => ({ where: `${path.relative(ROOT, file)}:${i + 1}`, code: codeOf(line) }))
        .filter((l) => l.code.includes("arn:aws:"))
        .map((l) => l.where),
    );
    expect(hits).to.deep.equal([]);
  });
});
