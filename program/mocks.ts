/**
 * Pulumi mocks that record every resource the program registers, exactly as the engine would
 * receive it. Installed once per process (Pulumi's mock state is global): by test/support/setup.ts
 * for the specs and by ./capture.ts for the offline runtime, which builds its topology from them.
 */
import { createHash } from "crypto";
import * as pulumi from "@pulumi/pulumi";

export const MOCK_ACCOUNT = "123456789012";
/** The region when the stack sets no `aws:region` (the provider's default, as the mocks play it). */
export const MOCK_REGION = "us-east-1";
export const MOCK_PROJECT = "orderflow";

/** The partition and DNS suffix a region belongs to, as `aws.getPartition` answers there. */
export function partitionOf(region: string): { partition: string; dnsSuffix: string } {
  if (region.startsWith("cn-")) return { partition: "aws-cn", dnsSuffix: "amazonaws.com.cn" };
  if (region.startsWith("us-gov-")) return { partition: "aws-us-gov", dnsSuffix: "amazonaws.com" };
  return { partition: "aws", dnsSuffix: "amazonaws.com" };
}

/** The stack's `aws:region` (read per call: a capture may run the program for several regions). */
export function mockRegion(): string {
  return pulumi.runtime.allConfig()["aws:region"] || MOCK_REGION;
}

export interface RegisteredResource {
  type: string;
  name: string;
  urn?: string;
  inputs: Record<string, unknown>;
  state: Record<string, unknown>;
  /** Resource options the engine would see that inputs do not show. */
  options?: {
    retainOnDelete: boolean;
    /** Names of the resources this one depends on (explicit `dependsOn` and through inputs). */
    dependsOn: string[];
  };
}

/** The part of a RegisterResourceRequest read here (Pulumi's protobuf message). */
interface RegisterRequest {
  getType(): string;
  getName(): string;
  getRetainondelete(): boolean;
  getDependenciesList(): string[];
}

export const registered: RegisteredResource[] = [];

let installedFor: string | undefined;

/**
 * Installs the mocks (once per project name) and sets the stack config. Config may be set again
 * later, before the program is loaded: `new pulumi.Config()` reads it when the program runs.
 * Region and partition calls answer from the config's `aws:region`, so a capture for
 * `us-gov-west-1` or `cn-north-1` sees that partition's ARNs everywhere AWS would compute them.
 */
export function installPulumiMocks(config?: Record<string, string>, project = MOCK_PROJECT): void {
  if (config) pulumi.runtime.setAllConfig(config);
  if (installedFor === project) return;
  installedFor = project;
  pulumi.runtime.setMocks(
    {
      newResource(args: pulumi.runtime.MockResourceArgs): { id: string; state: Record<string, unknown> } {
        const state = mockState(args.type, args.name, args.inputs as Record<string, unknown>);
        const options = requested.get(`${args.type}::${args.name}`);
        registered.push({ type: args.type, name: args.name, inputs: args.inputs, state, options });
        return { id: String(state.id), state };
      },
      call(args: pulumi.runtime.MockCallArgs): Record<string, unknown> {
        switch (args.token) {
          case "aws:index/getCallerIdentity:getCallerIdentity":
            return {
              accountId: MOCK_ACCOUNT,
              arn: `arn:${partitionOf(mockRegion()).partition}:iam::${MOCK_ACCOUNT}:user/test`,
              userId: "test",
            };
          case "aws:index/getRegion:getRegion":
            return { name: mockRegion(), region: mockRegion(), id: mockRegion() };
          case "aws:index/getPartition:getPartition":
            return { ...partitionOf(mockRegion()), id: partitionOf(mockRegion()).partition };
          default:
            return args.inputs as Record<string, unknown>;
        }
      },
    },
    project,
    "test",
    false,
  );
  // MockResourceArgs carries no options: read them from the request the mock monitor receives.
  const monitor = pulumi.runtime.getMonitor() as unknown as {
    registerResource(req: RegisterRequest, callback: unknown): unknown;
  };
  const register = monitor.registerResource.bind(monitor);
  monitor.registerResource = (req, callback) => {
    requested.set(`${req.getType()}::${req.getName()}`, {
      retainOnDelete: req.getRetainondelete(),
      dependsOn: req.getDependenciesList().map((urn) => urn.slice(urn.lastIndexOf("::") + 2)),
    });
    return register(req, callback);
  };
}

const requested = new Map<string, NonNullable<RegisteredResource["options"]>>();

/** Realistic computed outputs per type, so ARNs and URLs in policies look like AWS's. */
function mockState(type: string, name: string, inputs: Record<string, unknown>): Record<string, unknown> {
  const physical =
    typeof inputs.name === "string"
      ? inputs.name
      : typeof inputs.namePrefix === "string"
        ? `${inputs.namePrefix}0000000`
        : `${name}-0000000`;
  const region = mockRegion();
  const { partition, dnsSuffix } = partitionOf(region);
  const arn = (service: string, resource: string) =>
    `arn:${partition}:${service}:${region}:${MOCK_ACCOUNT}:${resource}`;
  const base = { ...inputs, id: `${physical}-id`, name: physical };
  switch (type) {
    case "aws:dynamodb/table:Table":
      return { ...base, id: physical, arn: arn("dynamodb", `table/${physical}`) };
    case "aws:sqs/queue:Queue":
      return {
        ...base,
        id: `https://sqs.${region}.${dnsSuffix}/${MOCK_ACCOUNT}/${physical}`,
        url: `https://sqs.${region}.${dnsSuffix}/${MOCK_ACCOUNT}/${physical}`,
        arn: arn("sqs", physical),
      };
    case "aws:sns/topic:Topic":
      return { ...base, id: arn("sns", physical), arn: arn("sns", physical) };
    case "aws:kms/key:Key":
      return {
        ...base,
        id: "key-id-" + name,
        keyId: "key-id-" + name,
        arn: arn("kms", `key/key-id-${name}`),
      };
    case "aws:kms/alias:Alias":
      return { ...base, arn: arn("kms", physical) };
    case "aws:iam/role:Role":
      return { ...base, id: physical, arn: `arn:${partition}:iam::${MOCK_ACCOUNT}:role/${physical}` };
    case "aws:iam/policy:Policy":
      return { ...base, arn: `arn:${partition}:iam::${MOCK_ACCOUNT}:policy/${physical}` };
    case "aws:lambda/function:Function":
      return {
        ...base,
        id: physical,
        arn: arn("lambda", `function:${physical}`),
        invokeArn: `arn:${partition}:apigateway:${region}:lambda:path/2015-03-31/functions/${arn("lambda", `function:${physical}`)}/invocations`,
        qualifiedArn: arn("lambda", `function:${physical}:$LATEST`),
      };
    case "aws:cloudwatch/logGroup:LogGroup":
      return { ...base, id: physical, arn: arn("logs", `log-group:${physical}`) };
    case "aws:sfn/stateMachine:StateMachine":
      return {
        ...base,
        id: arn("states", `stateMachine:${physical}`),
        arn: arn("states", `stateMachine:${physical}`),
      };
    case "aws:apigateway/restApi:RestApi": {
      // AWS picks a random 10-character id: distinct per project, stack and region, as here.
      const id = createHash("sha256")
        .update(`${pulumi.getProject()}/${pulumi.getStack()}/${region}/${name}`)
        .digest("hex")
        .slice(0, 10);
      return { ...base, id, rootResourceId: `root-${id}`, executionArn: arn("execute-api", id) };
    }
    case "aws:apigateway/stage:Stage":
      return {
        ...base,
        invokeUrl: `https://api-id.execute-api.${region}.${dnsSuffix}/${String(inputs.stageName)}`,
        executionArn: arn("execute-api", `api-id/${String(inputs.stageName)}`),
        arn: `arn:${partition}:apigateway:${region}::/restapis/api-id/stages/${String(inputs.stageName)}`,
      };
    case "aws:apigateway/apiKey:ApiKey":
      return { ...base, value: "mock-api-key-value-0123456789" };
    case "aws:cloudwatch/metricAlarm:MetricAlarm":
      return { ...base, arn: arn("cloudwatch", `alarm:${physical}`) };
    default:
      return { ...base, arn: arn("mock", `${type}/${physical}`) };
  }
}
