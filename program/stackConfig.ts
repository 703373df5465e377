import { readFileSync } from "fs";
import * as path from "path";
import { parse } from "yaml";

/**
 * Reads a stack file (`Pulumi.<stack>.yaml`) into the flat string map the Pulumi runtime holds:
 * structured values as JSON text, which is how `pulumi up` hands them to the program.
 */
export function readStackConfig(stack = "dev", root = path.join(__dirname, "..")): Record<string, string> {
  const file = path.join(root, `Pulumi.${stack}.yaml`);
  const doc = parse(readFileSync(file, "utf8")) as { config?: Record<string, unknown> };
  return toRuntimeConfig(doc.config ?? {});
}

export function toRuntimeConfig(values: Record<string, unknown>): Record<string, string> {
  return Object.fromEntries(
    Object.entries(values).map(([key, value]) => [
      key,
      typeof value === "string" ? value : JSON.stringify(value),
    ]),
  );
}
