/**
 * SNS: a Query-protocol `Publish` endpoint. Nothing leaves the machine: every notification is
 * printed and appended to a JSON Lines file, and kept in memory for tests.
 */
import { randomUUID } from "node:crypto";
import { appendFileSync, mkdirSync } from "node:fs";
import * as http from "node:http";
import * as path from "node:path";
import { close, listen, readBody } from "./net";
import type { LocalTopic } from "./topology";

export interface Notification {
  messageId: string;
  topicArn?: string;
  phoneNumber?: string;
  subject?: string;
  message: string;
  attributes: Record<string, string>;
  at: string;
}

const NS = "http://sns.amazonaws.com/doc/2010-03-31/";
const xmlEscape = (s: string) => s.replace(/[<>&'"]/g, (c) => `&#${c.charCodeAt(0)};`);

function errorXml(code: string, message: string, type = "Sender"): string {
  return `<ErrorResponse xmlns="${NS}"><Error><Type>${type}</Type><Code>${code}</Code><Message>${xmlEscape(message)}</Message></Error><RequestId>${randomUUID()}</RequestId></ErrorResponse>`;
}

export interface LocalSns {
  endpoint: string;
  readonly notifications: Notification[];
  stop(): Promise<void>;
}

export async function startSns(opts: {
  topics: LocalTopic[];
  /** JSON Lines file every notification is appended to (none: memory only). */
  file?: string;
  print?: (n: Notification) => void;
  port?: number;
}): Promise<LocalSns> {
  const notifications: Notification[] = [];
  if (opts.file) mkdirSync(path.dirname(opts.file), { recursive: true });
  const server = http.createServer(async (req, res) => {
    const reply = (status: number, xml: string) => {
      res.writeHead(status, { "Content-Type": "text/xml" });
      res.end(xml);
    };
    try {
      const form = new URLSearchParams((await readBody(req, 512 * 1024)).toString("utf8"));
      const action = form.get("Action");
      if (action !== "Publish")
        return reply(400, errorXml("InvalidAction", `Action ${action} is not served offline`));
      const topicArn = form.get("TopicArn") ?? form.get("TargetArn") ?? undefined;
      const phoneNumber = form.get("PhoneNumber") ?? undefined;
      if (topicArn && !opts.topics.some((t) => t.arn === topicArn))
        return reply(404, errorXml("NotFound", "Topic does not exist"));
      if (!topicArn && !phoneNumber)
        return reply(400, errorXml("InvalidParameter", "Invalid parameter: TopicArn or PhoneNumber"));
      const message = form.get("Message");
      if (message === null)
        return reply(
          400,
          errorXml("ValidationError", "1 validation error detected: Message must not be null"),
        );
      const attributes: Record<string, string> = {};
      for (let i = 1; form.has(`MessageAttributes.entry.${i}.Name`); i++) {
        attributes[String(form.get(`MessageAttributes.entry.${i}.Name`))] = String(
          form.get(`MessageAttributes.entry.${i}.Value.StringValue`) ??
            form.get(`MessageAttributes.entry.${i}.Value.BinaryValue`) ??
            "",
        );
      }
      const n: Notification = {
        messageId: randomUUID(),
        topicArn,
        phoneNumber,
        subject: form.get("Subject") ?? undefined,
        message,
        attributes,
        at: new Date().toISOString(),
      };
      notifications.push(n);
      if (opts.file) appendFileSync(opts.file, JSON.stringify(n) + "\n");
      opts.print?.(n);
      reply(
        200,
        `<PublishResponse xmlns="${NS}"><PublishResult><MessageId>${n.messageId}</MessageId></PublishResult><ResponseMetadata><RequestId>${randomUUID()}</RequestId></ResponseMetadata></PublishResponse>`,
      );
    } catch (err) {
      reply(500, errorXml("InternalError", (err as Error).message, "Receiver"));
    }
  });
  const port = await listen(server, opts.port ?? 0);
  return { endpoint: `http://127.0.0.1:${port}`, notifications, stop: () => close(server) };
}
