import type { LambdaClient } from "@aws-sdk/client-lambda";
import { domainError } from "./errors";
import { invokeJson } from "./lambdaInvoke";
import type { InventoryRequest, InventoryResult } from "./types";

/** update_inventory, invoked synchronously. One Lambda Invoke per call. */
export interface InventoryClient {
  invoke<R extends InventoryRequest>(request: R): Promise<Extract<InventoryResult, { action: R["action"] }>>;
}

export function lambdaInventoryClient(client: LambdaClient, functionName: string): InventoryClient {
  return {
    async invoke(request) {
      const { text, functionError } = await invokeJson(client, functionName, request);
      if (functionError) {
        let detail: unknown = text;
        try {
          detail = JSON.parse(text);
        } catch {
          // keep the raw text
        }
        throw domainError("InventoryFunctionError", `update_inventory failed (${functionError})`, { detail });
      }
      const result = JSON.parse(text) as InventoryResult;
      if (typeof result !== "object" || result === null || result.action !== request.action) {
        throw domainError("InventoryFunctionError", "update_inventory returned an unexpected result", {
          detail: text,
        });
      }
      return result as never;
    },
  };
}
