import { PublishCommand, SNSClient } from "@aws-sdk/client-sns";

/** One notice, with a body per protocol (SNS `MessageStructure: "json"`). */
export interface Notice {
  subject: string;
  /** For protocols without their own body (SQS, Lambda, HTTP...). */
  default: string;
  email: string;
  /** At most 140 characters. */
  sms: string;
  attributes: Record<string, string>;
}

/** The notification topic. One Publish per call; returns the SNS MessageId. */
export interface Notifier {
  publish(notice: Notice): Promise<string>;
}

export function snsNotifier(client: SNSClient, topicArn: string): Notifier {
  return {
    async publish(notice) {
      const out = await client.send(
        new PublishCommand({
          TopicArn: topicArn,
          Subject: notice.subject,
          MessageStructure: "json",
          Message: JSON.stringify({ default: notice.default, email: notice.email, sms: notice.sms }),
          MessageAttributes: Object.fromEntries(
            Object.entries(notice.attributes).map(([k, value]) => [
              k,
              { DataType: "String", StringValue: value },
            ]),
          ),
        }),
      );
      return out.MessageId ?? "";
    },
  };
}
