/**
 * Structured JSON logs, one line per event, with the order id on every line once known
 * (`child({ orderId })`). Deliberately tiny instead of @aws-lambda-powertools/logger: every
 * module in `dependencies` ends up in each Lambda's archive (design §2), and this is all the
 * handlers need. CloudWatch Logs Insights parses the JSON fields.
 */

export type LogLevel = "info" | "warn" | "error";
export type LogFields = Record<string, unknown>;
export type LogSink = (level: LogLevel, line: string) => void;

export interface Logger {
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  /** A logger that adds `fields` to every line (later fields win). */
  child(fields: LogFields): Logger;
}

function writeLine(level: LogLevel, line: string): void {
  (level === "error" ? process.stderr : process.stdout).write(line + "\n");
}

/** Errors don't survive JSON.stringify (no enumerable message): flatten them. */
function plain(value: unknown): unknown {
  if (value instanceof Error) {
    const { name, message, stack } = value;
    const code = (value as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
    return code === undefined ? { name, message, stack } : { name, message, httpStatusCode: code, stack };
  }
  return value;
}

export function createLogger(base: LogFields = {}, sink: LogSink = writeLine): Logger {
  const emit = (level: LogLevel, msg: string, fields: LogFields = {}) => {
    const entry: LogFields = { level, msg, time: new Date().toISOString() };
    for (const [k, val] of Object.entries({ ...base, ...fields })) entry[k] = plain(val);
    let line: string;
    try {
      line = JSON.stringify(entry);
    } catch {
      line = JSON.stringify({ level, msg, time: entry.time, logError: "fields not serializable" });
    }
    sink(level, line);
  };
  return {
    info: (msg, fields) => emit("info", msg, fields),
    warn: (msg, fields) => emit("warn", msg, fields),
    error: (msg, fields) => emit("error", msg, fields),
    child: (fields) => createLogger({ ...base, ...fields }, sink),
  };
}
