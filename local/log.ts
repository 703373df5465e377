/** Structured JSON lines for the runtime's own events (handlers log for themselves). */
export type Level = "debug" | "info" | "warn" | "error";
const ORDER: Record<Level, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
}

export function createLogger(
  level: Level | "silent",
  write: (line: string) => void = (l) => process.stderr.write(l + "\n"),
): Logger {
  const min = level === "silent" ? Infinity : ORDER[level];
  const at =
    (lvl: Level) =>
    (msg: string, fields: Record<string, unknown> = {}) => {
      if (ORDER[lvl] < min) return;
      write(
        JSON.stringify({ level: lvl, time: new Date().toISOString(), source: "offline", msg, ...fields }),
      );
    };
  return { debug: at("debug"), info: at("info"), warn: at("warn"), error: at("error") };
}
