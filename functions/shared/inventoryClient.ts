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
      const { payload, text, functionError } = await invokeJson(client, functionName, request);
      if (functionError) {
        throw domainError("InventoryFunctionError", `update_inventory failed (${functionError})`, {
          // The parsed `{errorType, errorMessage}`, or the raw text when it is not JSON.
          detail: payload === undefined ? text : payload,
        });
      }
      const result = payload as InventoryResult | undefined;
      if (typeof result !== "object" || result === null || result.action !== request.action) {
        throw domainError("InventoryFunctionError", "update_inventory returned an unexpected result", {
          detail: text,
        });
      }
      return result as never;
    },
  };
}
