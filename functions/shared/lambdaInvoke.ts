import { InvokeCommand, LambdaClient } from "@aws-sdk/client-lambda";
import { namedError } from "./errors";

export interface InvokeOutcome {
  /** The response payload parsed as JSON; undefined when it is empty or not JSON. */
  payload: unknown;
  /** The function's response payload as text ("" when empty). */
  text: string;
  /** Lambda's `X-Amz-Function-Error` ("Unhandled"...) when the function threw. */
  functionError?: string;
  /** The thrown error's type, from the `{errorType, errorMessage}` payload Lambda returns then. */
  errorType?: string;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** One synchronous (RequestResponse) Invoke with a JSON payload; the answer is parsed once here. */
export async function invokeJson(
  client: LambdaClient,
  functionName: string,
  payload: unknown,
): Promise<InvokeOutcome> {
  const out = await client.send(
    new InvokeCommand({
      FunctionName: functionName,
      InvocationType: "RequestResponse",
      Payload: Buffer.from(JSON.stringify(payload)),
    }),
  );
  const text = out.Payload ? Buffer.from(out.Payload).toString("utf8") : "";
  const parsed = parseJson(text);
  if (!out.FunctionError) return { payload: parsed, text };
  const errorType =
    typeof parsed === "object" &&
    parsed !== null &&
    typeof (parsed as { errorType?: unknown }).errorType === "string"
      ? (parsed as { errorType: string }).errorType
      : undefined;
  return { payload: parsed, text, functionError: out.FunctionError, errorType };
}

/**
 * invokeJson for a function whose failure is the caller's failure: a function error is thrown
 * under the function's own errorType (so a workflow's Retry / Catch and the logs see what the
 * function threw), its message `<label> failed: ` and the start of the payload.
 */
export async function invokeOrThrow(
  client: LambdaClient,
  functionName: string,
  input: unknown,
  label: string,
): Promise<Pick<InvokeOutcome, "payload" | "text">> {
  const { payload, text, functionError, errorType } = await invokeJson(client, functionName, input);
  if (functionError) throw namedError(errorType ?? "FunctionError", `${label} failed: ${text.slice(0, 500)}`);
  return { payload, text };
}
