/**
 * `@pulumi/policy` exactly as the rules resolve it. The pack may have its own copy
 * (`cd policies && npm ci` installs policies/node_modules) next to the root one; tests import the
 * SDK from here, never from "@pulumi/policy", so the harness and the rules share one module
 * instance (`instanceof UnknownValueError`, `unknownCheckingProxy`, `validateResourceOfType`'s
 * type filter) whichever copies are installed.
 */
export * from "@pulumi/policy";
export type { PolicyConfigJSONSchema } from "@pulumi/policy/schema";
