import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { sendNotificationFromEnv } from "../functions/sendNotification";
import { ENV } from "../functions/shared/settings";
import { keyUseStatement, tableItemStatement, topicPublishStatement } from "./iam";
import { createOrderFunction } from "./orderFunction";

export interface NotificationsArgs {
  keyArn: pulumi.Input<string>;
  ordersTableArn: pulumi.Input<string>;
  ordersTableName: pulumi.Input<string>;
  /** Each address gets an `email` subscription (AWS sends it a confirmation mail first). */
  emails: string[];
  /**
   * Each E.164 number gets an `sms` subscription. A new account is in the SNS SMS sandbox (only
   * verified numbers receive anything until AWS moves it out), and US numbers also need an
   * origination identity (toll-free number or 10DLC) in AWS End User Messaging SMS: see
   * docs/aws-assumptions.md.
   */
  smsNumbers: string[];
  logRetentionDays: number;
}

/**
 * The customer-notification topic (CMK-encrypted) with its e-mail and SMS subscriptions, and
 * send_notification, which marks an order COMPLETED and publishes one message with a body per
 * protocol.
 */
export class Notifications extends pulumi.ComponentResource {
  readonly topic: aws.sns.Topic;
  readonly notifyFunction: aws.lambda.Function;

  constructor(name: string, args: NotificationsArgs, opts?: pulumi.ComponentResourceOptions) {
    super("orderflow:index:Notifications", name, {}, opts);
    const parent = { parent: this };

    this.topic = new aws.sns.Topic(`${name}-topic`, { kmsMasterKeyId: args.keyArn }, parent);

    args.emails.forEach((email, i) => {
      new aws.sns.TopicSubscription(
        `${name}-email-${i}`,
        { topic: this.topic.arn, protocol: "email", endpoint: email },
        parent,
      );
    });
    args.smsNumbers.forEach((phone, i) => {
      new aws.sns.TopicSubscription(
        `${name}-sms-${i}`,
        { topic: this.topic.arn, protocol: "sms", endpoint: phone },
        parent,
      );
    });

    const accountId = aws.getCallerIdentityOutput({}, parent).accountId;
    const notify = createOrderFunction(
      `${name}-send-notification`,
      {
        handlerId: "sendNotification",
        description: "orderflow: mark a paid order COMPLETED and notify the customer over SNS",
        callbackFactory: sendNotificationFromEnv,
        statements: pulumi
          .all([args.ordersTableArn, this.topic.arn, args.keyArn])
          .apply(([orders, topic, key]) => [
            tableItemStatement("Orders", orders, ["GetItem", "UpdateItem"]),
            topicPublishStatement("PublishNotification", topic),
            keyUseStatement("EncryptedTopicAndTable", key, "encrypt"),
          ]),
        environment: { [ENV.ordersTable]: args.ordersTableName, [ENV.topicArn]: this.topic.arn },
        keyArn: args.keyArn,
        accountId,
        logRetentionDays: args.logRetentionDays,
        timeoutSeconds: 10,
      },
      this,
    );
    this.notifyFunction = notify.fn;

    this.registerOutputs({ topicArn: this.topic.arn, notifyFunctionArn: this.notifyFunction.arn });
  }
}
