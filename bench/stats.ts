/** Small helpers shared by the benchmark parts: order statistics, child processes, formatting. */
import { execSync, spawn } from "node:child_process";
import * as os from "node:os";
import * as path from "node:path";

/** The catalogue item every bench order buys (stock large enough never to run out). */
export const BENCH_SKU = "BENCH-1";

export function median(values: number[]): number {
  return quantile(values, 0.5);
}

/** Nearest-rank quantile (p in [0, 1]); NaN for an empty list. */
export function quantile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1));
  return sorted[rank];
}

export const round = (n: number, digits = 2): number => Number(n.toFixed(digits));

export const ratio = (value: number, limit: number): number => round(value / limit, 2);

/** Runs a command to its end; returns stdout, stderr and the wall time (spawn to exit). */
export function run(
  command: string,
  args: string[],
  opts: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {},
): Promise<{ code: number | null; stdout: string; stderr: string; wallMs: number }> {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const child = spawn(command, args, {
      cwd: opts.cwd,
      env: opts.env ?? process.env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), opts.timeoutMs ?? 120_000);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, wallMs: Number(process.hrtime.bigint() - t0) / 1e6 });
    });
  });
}

/** The last line of a child's stdout that parses as JSON (children print their result last). */
export function lastJson<T>(stdout: string): T {
  const lines = stdout.trim().split("\n").reverse();
  for (const line of lines) {
    try {
      return JSON.parse(line) as T;
    } catch {
      // log noise
    }
  }
  throw new Error(`no JSON result in child output:\n${stdout.slice(-2000)}`);
}

export function table(header: string[], rows: (string | number)[][]): string {
  const cells = [header, ...rows.map((r) => r.map(String))];
  const widths = header.map((_, i) => Math.max(...cells.map((r) => r[i].length)));
  const line = (r: string[]) => r.map((c, i) => c.padEnd(widths[i])).join("  ");
  return [line(cells[0]), widths.map((w) => "-".repeat(w)).join("  "), ...cells.slice(1).map(line)].join(
    "\n",
  );
}

export const kb = (bytes: number): string => `${(bytes / 1024).toFixed(1)} KB`;

/** The machine, Node, load and commit a run was measured on (written with every result). */
export function machine() {
  let commit = "unknown";
  try {
    commit = execSync("git rev-parse --short HEAD", {
      cwd: path.join(__dirname, ".."),
      stdio: ["ignore", "pipe", "ignore"],
    })
      .toString()
      .trim();
  } catch {
    // not a git checkout
  }
  return {
    cpu: os.cpus()[0]?.model ?? "unknown",
    cores: os.cpus().length,
    memoryGb: round(os.totalmem() / 1024 ** 3, 1),
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    node: process.version,
    loadAverageAtStart: os.loadavg().map((l) => round(l, 2)),
    commit,
    date: new Date().toISOString(),
  };
}
