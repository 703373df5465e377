/**
 * The part of `@pulumi/awsx` that monitoring.ts uses, shaped like `awsx.classic` so its code reads
 * the same: the CloudWatch helpers and the metric helpers of four services. Importing
 * `@pulumi/awsx` itself loads about 125 modules (ECS, EC2, load balancers, ECR, Docker) on every
 * preview; these paths load only what the helpers need (docs/benchmarks.md has the figure).
 */
// Each module exports a `metrics` namespace; apigateway's index would also load its REST API builder.
import * as apigatewayMetrics from "@pulumi/awsx/classic/apigateway/metrics";
import * as cloudwatchModule from "@pulumi/awsx/classic/cloudwatch";
import * as dynamodbModule from "@pulumi/awsx/classic/dynamodb";
import * as lambdaModule from "@pulumi/awsx/classic/lambda";
import * as sqsModule from "@pulumi/awsx/classic/sqs";

// A namespace, not an object: monitoring.ts also names types through it (`classic.cloudwatch.Metric`).
// eslint-disable-next-line @typescript-eslint/no-namespace
export namespace classic {
  export import apigateway = apigatewayMetrics;
  export import cloudwatch = cloudwatchModule;
  export import dynamodb = dynamodbModule;
  export import lambda = lambdaModule;
  export import sqs = sqsModule;
}
