import { InvokeCommand, LambdaClient } from "@aws-sdk/client-lambda";

export interface InvokeOutcome {
  /** The function's response payload as text ("" when empty). */
  text: string;
  /** Lambda's `X-Amz-Function-Error` ("Unhandled"...) when the function threw. */
  functionError?: string;
  /** The thrown error's type, from the `{errorType, errorMessage}` payload Lambda returns then. */
  errorType?: string;
}

/** One synchronous (RequestResponse) Invoke with a JSON payload. */
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
  if (!out.FunctionError) return { text };
  let errorType: string | undefined;
  try {
    const parsed = JSON.parse(text) as { errorType?: unknown };
    if (typeof parsed.errorType === "string") errorType = parsed.errorType;
  } catch {
    // not JSON: keep the raw text only
  }
  return { text, functionError: out.FunctionError, errorType };
}
