/**
 * A real browser for the e2e specs: Debian's Chromium driven by playwright-core, headless, with
 * a fresh profile, behind a small HTTP proxy that lets a page live on any origin without
 * binding that origin's port.
 *
 * Why a proxy: CORS is decided by the page's origin, and the one the dev stack allows is
 * http://localhost:3000. Binding port 3000 in a spec would collide with a running `npm start`
 * or a parallel run; Playwright's request interception (`page.route`) is no substitute, since it
 * answers CORS preflights itself while it intercepts. A proxy only carries bytes: the browser
 * still sends the preflight to the API and enforces the answer. The proxy serves the mapped
 * origins from the real static server (local/web.ts), forwards loopback traffic (the API), and
 * refuses everything else, so the browser never reaches the internet.
 */
import * as fs from "node:fs";
import * as http from "node:http";
import * as os from "node:os";
import * as path from "node:path";
import { chromium, type BrowserContext } from "playwright-core";
import { close, listen } from "../../../local/net";

/** Debian's package; elsewhere point ORDERFLOW_CHROMIUM at a Chromium or Chrome binary. */
export const CHROMIUM_PATH = process.env.ORDERFLOW_CHROMIUM ?? "/usr/bin/chromium";

export const CHROMIUM_ARGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
];

/** Where specs leave screenshots (gitignored with the rest of .orderflow/). */
export const ARTIFACTS_DIR = path.join(__dirname, "..", "..", "..", ".orderflow", "artifacts");

/** One response the proxy carried back from the API: what the browser received. */
export interface SeenResponse {
  method: string;
  url: string;
  origin: string | undefined;
  status: number;
  allowOrigin: string | undefined;
}

export interface OriginProxy {
  url: string;
  /** Responses from loopback targets (the API), in order. */
  seen: SeenResponse[];
  stop(): Promise<void>;
}

/**
 * @param pages origin (`http://localhost:3000`) -> the server that answers for it
 *   (`http://127.0.0.1:<port>`)
 */
export async function startOriginProxy(pages: Record<string, string>): Promise<OriginProxy> {
  const seen: SeenResponse[] = [];
  const server = http.createServer((req, res) => {
    let target: URL;
    try {
      target = new URL(req.url ?? "");
    } catch {
      res.writeHead(400);
      return void res.end();
    }
    const page = pages[target.origin];
    const upstream = page ? new URL(target.pathname + target.search, page) : target;
    if (!page && upstream.hostname !== "127.0.0.1") {
      res.writeHead(502);
      return void res.end();
    }
    const headers = { ...req.headers };
    delete headers["proxy-connection"];
    const forward = http.request(
      upstream,
      { method: req.method, headers: { ...headers, connection: "close" } },
      (answer) => {
        if (!page)
          seen.push({
            method: String(req.method),
            url: target.href,
            origin: req.headers.origin,
            status: answer.statusCode ?? 0,
            allowOrigin: answer.headers["access-control-allow-origin"] as string | undefined,
          });
        // Hop-by-hop: the browser's connection to the proxy stays open.
        const { connection: _c, "keep-alive": _k, ...rest } = answer.headers;
        res.writeHead(answer.statusCode ?? 502, rest);
        answer.pipe(res);
      },
    );
    forward.on("error", () => {
      if (!res.headersSent) res.writeHead(502);
      res.end();
    });
    req.pipe(forward);
  });
  // HTTPS would come as CONNECT: nothing here needs it.
  server.on("connect", (_req, socket) => socket.end("HTTP/1.1 403 Forbidden\r\n\r\n"));
  const port = await listen(server);
  return { url: `http://127.0.0.1:${port}`, seen, stop: () => close(server) };
}

export interface Browser {
  context: BrowserContext;
  close(): Promise<void>;
}

/** Headless Chromium with a fresh profile (its --user-data-dir), all traffic through `proxyUrl`. */
export async function launchChromium(proxyUrl: string): Promise<Browser> {
  if (!fs.existsSync(CHROMIUM_PATH))
    throw new Error(
      `No Chromium at ${CHROMIUM_PATH}: apt-get install chromium (.ci/run does), or set ORDERFLOW_CHROMIUM`,
    );
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), "orderflow-chromium-"));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: CHROMIUM_ARGS,
    // Playwright also drops Chromium's implicit loopback bypass, so localhost goes through it.
    proxy: { server: proxyUrl },
    viewport: { width: 1100, height: 900 },
  });
  return {
    context,
    close: async () => {
      await context.close();
      fs.rmSync(profile, { recursive: true, force: true });
    },
  };
}
