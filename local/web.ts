/**
 * The browser client (web/) on an origin of its own for `npm start`: a small static server on
 * another port than the API's, so every call the page makes is cross-origin and CORS is
 * enforced exactly as for a page hosted anywhere static in front of the deployed API.
 */
import { readFile } from "node:fs/promises";
import * as http from "node:http";
import * as path from "node:path";
import { unmarshall } from "@aws-sdk/util-dynamodb";
import type { AttributeValue } from "@aws-sdk/client-dynamodb";
import { close, listen } from "./net";
import { StartupError } from "./startupError";
import type { LocalTopology } from "./topology";

const WEB_ROOT = path.join(__dirname, "..", "web");

/**
 * The page's port for `npm start`. Its origin, http://localhost:3000, is the one
 * Pulumi.dev.yaml allows (`orderflow:allowedOrigins`); another port is another origin.
 */
export const DEFAULT_WEB_PORT = 3000;

/** What the static server serves: the page's own files, nothing else from the folder. */
const CONTENT_TYPES: Readonly<Record<string, string>> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
};

/**
 * The page talks to an API URL the user types, so `connect-src` allows any http(s) origin;
 * everything else comes from the page's own origin only.
 */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "connect-src 'self' http: https:",
  "img-src 'self' data:",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join("; ");

/** A catalogue entry as the page offers it (no stock: that changes with every order). */
export interface WebCatalogueEntry {
  sku: string;
  name?: string;
  /** Integer cents. */
  price?: number;
}

export interface WebServerOptions {
  /** @default 0 (a free port) */
  port?: number;
  /** @default WEB_ROOT */
  root?: string;
  /** Served as /catalogue.json, the page's SKU suggestions. */
  catalogue?: WebCatalogueEntry[];
}

export interface WebServer {
  /** The page's origin as a browser should open it (`localhost`, the name allowedOrigins uses). */
  origin: string;
  port: number;
  stop(): Promise<void>;
}

export async function startWebServer(o: WebServerOptions = {}): Promise<WebServer> {
  const root = o.root ?? WEB_ROOT;
  const catalogue = JSON.stringify(o.catalogue ?? []);
  const server = http.createServer((req, res) => {
    serve(root, catalogue, req, res).catch(() => {
      if (!res.headersSent) res.writeHead(500, { "Content-Type": "text/plain" });
      res.end("Internal error");
    });
  });
  const port = await listen(server, o.port ?? 0).catch((err: NodeJS.ErrnoException) => {
    if (err.code !== "EADDRINUSE") throw err;
    throw new StartupError(
      `--web-port ${o.port}: the port is in use: stop what holds it, or pass --web-port <n> ` +
        "and add http://localhost:<n> to orderflow:allowedOrigins",
    );
  });
  return { origin: `http://localhost:${port}`, port, stop: () => close(server) };
}

async function serve(
  root: string,
  catalogue: string,
  req: http.IncomingMessage,
  res: http.ServerResponse,
): Promise<void> {
  const headers = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
  };
  if (req.method !== "GET" && req.method !== "HEAD") {
    res.writeHead(405, { ...headers, Allow: "GET, HEAD", "Content-Type": "text/plain" });
    return void res.end("Method not allowed");
  }
  const name = new URL(req.url ?? "/", "http://page").pathname.slice(1) || "index.html";
  let type: string | undefined;
  let body: Buffer | string | undefined;
  if (name === "catalogue.json") {
    type = "application/json";
    body = catalogue;
  } else if (/^[a-z0-9-]+\.[a-z]+$/.test(name) && CONTENT_TYPES[path.extname(name)]) {
    // Flat names only (no `/`, no `..`): nothing outside the folder can be named.
    type = CONTENT_TYPES[path.extname(name)];
    body = await readFile(path.join(root, name)).catch(() => undefined);
  }
  if (type === undefined || body === undefined) {
    res.writeHead(404, { ...headers, "Content-Type": "text/plain" });
    return void res.end("Not found");
  }
  res.writeHead(200, { ...headers, "Content-Type": type });
  res.end(req.method === "HEAD" ? undefined : body);
}

/** The stack's catalogue as seeded into the inventory table (names and prices, not stock). */
export function catalogueOf(topology: LocalTopology, inventoryTable: string): WebCatalogueEntry[] {
  return topology.seedItems
    .filter((s) => s.tableName === inventoryTable)
    .map(
      (s) => unmarshall(s.item as Record<string, AttributeValue>) as WebCatalogueEntry & { stock?: number },
    )
    .map(({ sku, name, price }) => ({ sku, name, price }));
}

/** Origins the API's CORS preflight allows (`["*"]` for any). */
export function allowedOriginsOf(topology: LocalTopology): string[] {
  for (const route of topology.api.routes)
    if (route.integration.type === "MOCK") return route.integration.preflight.allowedOrigins;
  return [];
}

/**
 * The banner lines for `npm start`: the page's URL (the API URL in its fragment, read once by
 * the page; the key is never put in a URL), and a warning when the page's origin is one the
 * API does not allow, since the browser would then block every call.
 */
export function webBanner(web: Pick<WebServer, "origin">, apiUrl: string, allowed: string[]): string[] {
  const lines = [`  Web page  ${web.origin}/#api=${apiUrl}  (paste the API key once)`];
  if (!allowed.includes("*") && !allowed.includes(web.origin))
    lines.push(
      `  WARNING   ${web.origin} is not in orderflow:allowedOrigins (${allowed.join(", ") || "none"}): ` +
        "the browser will block the page's calls. Add it to the stack file, or use --web-port " +
        String(DEFAULT_WEB_PORT),
    );
  return lines;
}
