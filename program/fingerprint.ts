/**
 * A digest of what the program registered: every resource's type, name and inputs, with each code
 * archive reduced to its entries (a StringAsset by its text, a file or folder by its path). Two
 * processes that register the same resources with the same serialized code get the same digest;
 * the preview-cuts spec and the bench use it to prove a faster way of running changes nothing.
 */
import { createHash } from "crypto";
import * as pulumi from "@pulumi/pulumi";
import type { RegisteredResource } from "./mocks";

export interface ProgramFingerprint {
  /** sha256 over every resource (sorted by type and name). */
  digest: string;
  resources: number;
  /** sha256 of each function's serialized `__index.js`, by resource name. */
  code: Record<string, string>;
}

const sha256 = (text: string) => createHash("sha256").update(text).digest("hex");

export async function fingerprint(resources: RegisteredResource[]): Promise<ProgramFingerprint> {
  const code: Record<string, string> = {};
  const entries: string[] = [];
  for (const r of resources) {
    const inputs = (await plain(r.inputs, (text) => (code[r.name] = sha256(text)))) as unknown;
    entries.push(JSON.stringify([r.type, r.name, inputs]));
  }
  entries.sort();
  return {
    digest: sha256(entries.join("\n")),
    resources: resources.length,
    code: sortKeys(code) as Record<string, string>,
  };
}

/** A JSON-safe copy with keys sorted; assets and archives resolved to what they would upload. */
async function plain(value: unknown, onIndexJs: (text: string) => void): Promise<unknown> {
  if (pulumi.asset.Archive.isInstance(value)) {
    const assets = (value as unknown as { assets?: Promise<Record<string, unknown>> }).assets;
    const pathOf = (value as unknown as { path?: Promise<string> }).path;
    if (!assets) return { archive: pathOf ? await pathOf : "?" };
    const out: Record<string, unknown> = {};
    for (const [name, entry] of Object.entries(await assets)) {
      if (name === "__index.js") onIndexJs(await (entry as unknown as { text: Promise<string> }).text);
      out[name] = await plain(entry, onIndexJs);
    }
    return { archive: sortKeys(out) };
  }
  if (pulumi.asset.Asset.isInstance(value)) {
    const a = value as unknown as { text?: Promise<string>; path?: Promise<string> };
    if (a.text) return { text: sha256(await a.text) };
    return { file: a.path ? await a.path : "?" };
  }
  if (Array.isArray(value)) return Promise.all((value as unknown[]).map((v) => plain(v, onIndexJs)));
  if (value && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = await plain(v, onIndexJs);
    return sortKeys(out);
  }
  return value;
}

function sortKeys(o: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(o).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}
