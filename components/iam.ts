/**
 * IAM policy documents as typed data from small pure builders, each scoped to the ARNs it is
 * given. Tested directly (test/components/iam.spec.ts) and checked by the policy pack.
 */

export interface PolicyStatement {
  Sid?: string;
  Effect: "Allow" | "Deny";
  Action: string[];
  Resource: string[];
  Condition?: Record<string, Record<string, string | string[]>>;
}

export interface PolicyDocument {
  Version: "2012-10-17";
  Statement: PolicyStatement[];
}

export function policyDocument(statements: PolicyStatement[]): PolicyDocument {
  return { Version: "2012-10-17", Statement: statements };
}

const allow = (Sid: string, Action: string[], Resource: string[]): PolicyStatement => ({
  Sid,
  Effect: "Allow",
  Action,
  Resource,
});

/** Query on a GSI is authorized against `table/<name>/index/<index>`. */
/** Item-level calls on one table (not its indexes). */
export type TableItemAction = "GetItem" | "BatchGetItem" | "PutItem" | "UpdateItem";

export function tableItemStatement(
  sid: string,
  tableArn: string,
  actions: TableItemAction[],
): PolicyStatement {
  return allow(
    sid,
    actions.map((a) => `dynamodb:${a}`),
    [tableArn],
  );
}

/** Query on one index of a table, or on all of them (`*`). */
export function tableQueryStatement(sid: string, tableArn: string, index = "*"): PolicyStatement {
  return allow(sid, ["dynamodb:Query"], [`${tableArn}/index/${index}`]);
}

/**
 * Using data encrypted with the CMK: readers decrypt, writers also generate data keys
 * ([DynamoDB](https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/encryption.usagenotes.html),
 * [SQS](https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-key-management.html),
 * [SNS](https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html)).
 */
export function keyUseStatement(sid: string, keyArn: string, mode: "decrypt" | "encrypt"): PolicyStatement {
  return allow(sid, mode === "decrypt" ? ["kms:Decrypt"] : ["kms:Decrypt", "kms:GenerateDataKey"], [keyArn]);
}

export function invokeFunctionStatement(sid: string, functionArns: string[]): PolicyStatement {
  // Step Functions and the SDK may invoke a qualified ARN (version/alias) of the same function.
  return allow(
    sid,
    ["lambda:InvokeFunction"],
    functionArns.flatMap((arn) => [arn, `${arn}:*`]),
  );
}

export function startExecutionStatement(sid: string, stateMachineArn: string): PolicyStatement {
  return allow(sid, ["states:StartExecution"], [stateMachineArn]);
}

/**
 * Task-token callbacks are authorized on the token, not on an ARN: these three actions have no
 * resource type in the Service Authorization Reference, so `*` is their only valid Resource.
 */
export function taskCallbackStatement(sid: string): PolicyStatement {
  return allow(sid, ["states:SendTaskSuccess", "states:SendTaskFailure", "states:SendTaskHeartbeat"], ["*"]);
}

export function queueConsumeStatement(sid: string, queueArn: string): PolicyStatement {
  return allow(sid, ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"], [queueArn]);
}

export function queueSendStatement(sid: string, queueArn: string): PolicyStatement {
  return allow(sid, ["sqs:SendMessage"], [queueArn]);
}

export function topicPublishStatement(sid: string, topicArn: string): PolicyStatement {
  return allow(sid, ["sns:Publish"], [topicArn]);
}

/** A function writes only to its own log group. */
export function logWriteStatement(sid: string, logGroupArn: string): PolicyStatement {
  return allow(sid, ["logs:CreateLogStream", "logs:PutLogEvents"], [`${logGroupArn}:*`]);
}

/** X-Ray trace upload has no resource type: `*` only. */
export function tracingStatement(sid: string): PolicyStatement {
  return allow(sid, ["xray:PutTraceSegments", "xray:PutTelemetryRecords"], ["*"]);
}

/** X-Ray for Step Functions also reads sampling rules (again resource-less). */
export function stateMachineTracingStatement(sid: string): PolicyStatement {
  return allow(
    sid,
    ["xray:PutTraceSegments", "xray:PutTelemetryRecords", "xray:GetSamplingRules", "xray:GetSamplingTargets"],
    ["*"],
  );
}

/**
 * Step Functions log delivery goes through CloudWatch vended-log APIs, which do not support
 * resource-level permissions ([docs](https://docs.aws.amazon.com/step-functions/latest/dg/cw-logs.html)).
 */
export function logDeliveryStatement(sid: string): PolicyStatement {
  return allow(
    sid,
    [
      "logs:CreateLogDelivery",
      "logs:GetLogDelivery",
      "logs:UpdateLogDelivery",
      "logs:DeleteLogDelivery",
      "logs:ListLogDeliveries",
      "logs:PutResourcePolicy",
      "logs:DescribeResourcePolicies",
      "logs:DescribeLogGroups",
    ],
    ["*"],
  );
}

/** Trust policy for one service principal, limited to this account (confused-deputy guard). */
export function serviceTrustPolicy(service: string, accountId: string) {
  return {
    Version: "2012-10-17" as const,
    Statement: [
      {
        Effect: "Allow" as const,
        Principal: { Service: service },
        Action: "sts:AssumeRole",
        Condition: { StringEquals: { "aws:SourceAccount": accountId } },
      },
    ],
  };
}
