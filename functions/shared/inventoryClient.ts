import { InvokeCommand, LambdaClient } from "@aws-sdk/client-lambda";
import { domainError } from "./errors";
import type { InventoryRequest, InventoryResult } from "./types";

/** update_inventory, invoked synchronously. One Lambda Invoke per call. */
export interface InventoryClient {
  invoke<R extends InventoryRequest>(request: R): Promise<Extract<InventoryResult, { action: R["action"] }>>;
}

export function lambdaInventoryClient(client: LambdaClient, functionName: string): InventoryClient {
  return {
    async invoke(request) {
      const out = await client.send(
        new InvokeCommand({
          FunctionName: functionName,
          InvocationType: "RequestResponse",
          Payload: Buffer.from(JSON.stringify(request)),
        }),
      );
      const text = out.Payload ? Buffer.from(out.Payload).toString("utf8") : "";
      if (out.FunctionError) {
        let detail: unknown = text;
        try {
          detail = JSON.parse(text);
        } catch {
          // keep the raw text
        }
        throw domainError("InventoryFunctionError", `update_inventory failed (${out.FunctionError})`, { detail });
      }
      const result = JSON.parse(text) as InventoryResult;
      if (typeof result !== "object" || result === null || result.action !== request.action) {
        throw domainError("InventoryFunctionError", "update_inventory returned an unexpected result", { detail: text });
      }
      return result as never;
    },
  };
}
