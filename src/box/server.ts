import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { pipeline } from "node:stream/promises";
import { HomelabError, InputError } from "../errors.js";
import type { Catalog } from "./catalog.js";
import { formatBoxRef } from "./names.js";
import { parseRequestPath, type Route } from "./request-path.js";
import { BoxStore, ConflictError, NotFoundError, OutsideRootError } from "./store.js";
import { TokenSet, type AccessConfig } from "./tokens.js";

export interface RegistryServerOptions extends AccessConfig {
  readonly root: string;
  readonly host?: string;
  /** 0 picks a free port. */
  readonly port?: number;
  /** Base URL written into catalogs instead of http://<Host header> (behind a proxy). */
  readonly publicUrl?: string;
  /** One line per request (method, path, status); silent when omitted. */
  readonly log?: (line: string) => void;
}

export interface RegistryServer {
  /** http://host:port of the listening socket. */
  readonly url: string;
  readonly port: number;
  /**
   * Graceful stop: no new connections; uploads in progress are aborted and their temporary
   * files removed; downloads in flight run to completion (up to `graceMs`, then cut).
   */
  close(opts?: { graceMs?: number }): Promise<void>;
}

const HOST_HEADER = /^(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$/;

/** Starts the box registry HTTP server on a directory store. */
export async function startRegistryServer(opts: RegistryServerOptions): Promise<RegistryServer> {
  const store = await BoxStore.open(opts.root);
  await store.sweepIncoming();
  const write = new TokenSet(opts.writeTokens);
  const read = new TokenSet(opts.readTokens);
  const uploads = new Set<AbortController>();
  const inFlight = new Set<Promise<void>>();
  let closing = false;

  const server: Server = createServer((req, res) => {
    const done = handle(req, res).catch((err: unknown) => {
      opts.log?.(`error: ${(err as Error).stack ?? String(err)}`);
      if (!res.headersSent) sendJson(res, 500, { error: "internal error" });
      else res.destroy();
    });
    inFlight.add(done);
    void done.finally(() => inFlight.delete(done));
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    res.on("finish", () => opts.log?.(`${req.method} ${req.url} ${res.statusCode}`));
    const parsed = parseRequestPath(req.url ?? "");
    if ("status" in parsed) return void sendError(res, req, parsed.status, parsed.reason);
    const { route, query } = parsed;
    const method = req.method ?? "GET";
    if (route.kind === "health") return void (method === "GET" || method === "HEAD" ? sendText(res, req, 200, "ok\n") : notAllowed(res, req, "GET, HEAD"));

    const token = bearer(req) ?? query.get("access_token") ?? undefined;
    if (method === "GET" || method === "HEAD") {
      if (read.size > 0 && !(read.has(token) || write.has(token))) return void denied(res, req, token);
      if (route.kind === "index") return sendIndex(req, res);
      if (route.kind === "catalog") return sendCatalog(req, res, route);
      if (route.kind === "provider" && route.architecture !== undefined) return sendBox(req, res, route);
      return void sendError(res, req, 404, "GET a catalog (/org/name) or a box (/org/name/version/provider/architecture)");
    }
    if (method === "PUT" || method === "DELETE") {
      if (write.size === 0) return void sendError(res, req, 403, "uploads are disabled: the server has no write token configured");
      if (!write.has(token)) return void denied(res, req, token);
      if (method === "PUT" && (route.kind === "version" || route.kind === "provider")) return receiveBox(req, res, route, query);
      if (method === "DELETE" && (route.kind === "version" || route.kind === "provider")) return deleteBox(req, res, route);
      return void sendError(res, req, 404, "PUT or DELETE /org/name/version[/provider[/architecture]]");
    }
    notAllowed(res, req, "GET, HEAD, PUT, DELETE");
  }

  function baseUrl(req: IncomingMessage): string | undefined {
    if (opts.publicUrl) return opts.publicUrl.replace(/\/+$/, "");
    const host = req.headers.host;
    return host !== undefined && HOST_HEADER.test(host) ? `http://${host}` : undefined;
  }

  async function sendIndex(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const boxes: Catalog[] = [];
    for (const ref of await store.listBoxes()) {
      const c = await store.readCatalog(ref);
      if (c) boxes.push(c);
    }
    sendJson(res, 200, { boxes }, req.method === "HEAD");
  }

  async function sendCatalog(req: IncomingMessage, res: ServerResponse, route: Extract<Route, { kind: "catalog" }>): Promise<void> {
    const base = baseUrl(req);
    if (base === undefined) return void sendError(res, req, 400, "missing or invalid Host header");
    const catalog = await store.readCatalog(route.box).catch(storeRefusal);
    if (!catalog) return void sendError(res, req, 404, `no box ${formatBoxRef(route.box)}`);
    const prefix = `${base}/${route.box.org}/${route.box.name}`;
    const absolute: Catalog = {
      ...catalog,
      versions: catalog.versions.map((v) => ({
        ...v,
        providers: v.providers.map((p) => ({ ...p, url: `${prefix}/${v.version}/${p.name}/${p.architecture}` })),
      })),
    };
    res.setHeader("Cache-Control", "no-cache");
    sendJson(res, 200, absolute, req.method === "HEAD");
  }

  async function sendBox(req: IncomingMessage, res: ServerResponse, route: Extract<Route, { kind: "provider" }>): Promise<void> {
    const found = await store.openBox(route.box, route.version, route.provider, route.architecture!).catch(storeRefusal);
    if (!found) return void sendError(res, req, 404, "no such box file");
    const { fh, size, entry } = found;
    try {
      const etag = `"${entry.checksum}"`;
      res.setHeader("ETag", etag);
      res.setHeader("Accept-Ranges", "bytes");
      res.setHeader("Content-Type", "application/octet-stream");
      if (req.headers["if-none-match"]?.split(",").some((t) => t.trim() === etag || t.trim() === "*")) {
        res.writeHead(304).end();
        return;
      }
      const ifRange = req.headers["if-range"];
      const range = ifRange === undefined || ifRange === etag ? parseRange(req.headers.range, size) : undefined;
      if (range === "unsatisfiable") {
        res.setHeader("Content-Range", `bytes */${size}`);
        return void sendError(res, req, 416, "range not satisfiable");
      }
      const [start, end] = range ?? [0, size - 1];
      const length = size === 0 ? 0 : end - start + 1;
      res.setHeader("Content-Length", length);
      if (range) res.setHeader("Content-Range", `bytes ${start}-${end}/${size}`);
      res.writeHead(range ? 206 : 200);
      if (req.method === "HEAD" || length === 0) {
        res.end();
        return;
      }
      await pipeline(fh.createReadStream({ start, end, highWaterMark: 4 << 20, autoClose: false }), res).catch(() => {
        /* the client went away */
      });
    } finally {
      await fh.close();
    }
  }

  async function receiveBox(req: IncomingMessage, res: ServerResponse, route: Extract<Route, { kind: "version" | "provider" }>, query: URLSearchParams): Promise<void> {
    if (closing) return void sendError(res, req, 503, "the server is shutting down");
    const ctl = new AbortController();
    uploads.add(ctl);
    const length = Number(req.headers["content-length"]);
    try {
      const result = await store.publish(req, {
        box: route.box,
        version: route.version,
        ...(route.kind === "provider" ? { provider: route.provider } : {}),
        ...(route.kind === "provider" && route.architecture ? { architecture: route.architecture } : {}),
        force: query.get("force") === "1" || query.get("force") === "true",
        ...(query.has("default_architecture") ? { defaultArchitecture: query.get("default_architecture") !== "0" } : {}),
        label: `upload ${req.url}`,
        ...(Number.isInteger(length) && length >= 0 ? { total: length } : {}),
        signal: ctl.signal,
      });
      sendJson(res, result.replaced ? 200 : 201, result);
    } catch (err) {
      if (closing) {
        res.setHeader("Connection", "close");
        sendError(res, req, 503, "the server is shutting down; the upload was discarded");
      } else if (err instanceof ConflictError) sendError(res, req, 409, err.message);
      else if (err instanceof OutsideRootError) sendError(res, req, 403, "refused: that path leads outside the registry root");
      else if (err instanceof InputError) sendError(res, req, 400, err.message);
      else if (err instanceof HomelabError && req.destroyed) res.destroy();
      else throw err;
    } finally {
      uploads.delete(ctl);
    }
  }

  async function deleteBox(req: IncomingMessage, res: ServerResponse, route: Extract<Route, { kind: "version" | "provider" }>): Promise<void> {
    try {
      const removed = await store.remove({
        ...route.box,
        version: route.version,
        ...(route.kind === "provider" ? { provider: route.provider } : {}),
        ...(route.kind === "provider" && route.architecture ? { architecture: route.architecture } : {}),
      });
      sendJson(res, 200, { removed: removed.map((p) => ({ provider: p.name, architecture: p.architecture })) });
    } catch (err) {
      if (err instanceof NotFoundError) return void sendError(res, req, 404, err.message);
      if (err instanceof OutsideRootError) return void sendError(res, req, 403, "refused: that path leads outside the registry root");
      throw err;
    }
  }

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port ?? 0, opts.host ?? "127.0.0.1", () => {
      server.off("error", reject);
      resolve();
    });
  });
  const addr = server.address() as AddressInfo;
  const hostForUrl = addr.family === "IPv6" ? `[${addr.address}]` : addr.address;

  return {
    url: `http://${hostForUrl}:${addr.port}`,
    port: addr.port,
    async close({ graceMs = 60_000 } = {}) {
      closing = true;
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const ctl of uploads) ctl.abort();
      const idle = setInterval(() => server.closeIdleConnections(), 50);
      const cut = setTimeout(() => server.closeAllConnections(), graceMs);
      try {
        server.closeIdleConnections();
        await Promise.allSettled([...inFlight]);
        await closed;
      } finally {
        clearInterval(idle);
        clearTimeout(cut);
      }
    },
  };
}

/** A symlink or a path leading out of the root is answered like a missing file. */
function storeRefusal(err: unknown): undefined {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === "ENOTDIR" || err instanceof OutsideRootError) return undefined;
  throw err;
}

function bearer(req: IncomingMessage): string | undefined {
  const h = req.headers.authorization;
  const m = h === undefined ? null : /^Bearer\s+(\S+)\s*$/i.exec(h);
  return m?.[1];
}

function denied(res: ServerResponse, req: IncomingMessage, token: string | undefined): void {
  res.setHeader("WWW-Authenticate", 'Bearer realm="homelab"');
  if (token === undefined) sendError(res, req, 401, "a bearer token is required");
  else sendError(res, req, 403, "the token is not valid for this operation");
}

function notAllowed(res: ServerResponse, req: IncomingMessage, allow: string): void {
  res.setHeader("Allow", allow);
  sendError(res, req, 405, `method ${req.method} not allowed`);
}

function sendError(res: ServerResponse, req: IncomingMessage, status: number, message: string): void {
  // An upload refused before its body was read: close the connection rather than drain gigabytes.
  if (req.method === "PUT" && !req.complete) res.setHeader("Connection", "close");
  sendJson(res, status, { error: message }, req.method === "HEAD");
}

function sendJson(res: ServerResponse, status: number, body: unknown, headOnly = false): void {
  const data = Buffer.from(`${JSON.stringify(body, null, 2)}\n`);
  res.writeHead(status, { "Content-Type": "application/json", "Content-Length": data.length });
  res.end(headOnly ? undefined : data);
}

function sendText(res: ServerResponse, req: IncomingMessage, status: number, text: string): void {
  res.writeHead(status, { "Content-Type": "text/plain; charset=utf-8", "Content-Length": Buffer.byteLength(text) });
  res.end(req.method === "HEAD" ? undefined : text);
}

/** One `bytes=` range (several ranges are answered with the whole file, which RFC 9110 allows). */
export function parseRange(header: string | undefined, size: number): [number, number] | "unsatisfiable" | undefined {
  if (header === undefined) return undefined;
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m || (m[1] === "" && m[2] === "")) return undefined;
  let start: number;
  let end: number;
  if (m[1] === "") {
    const suffix = Number(m[2]);
    if (suffix === 0) return "unsatisfiable";
    start = Math.max(0, size - suffix);
    end = size - 1;
  } else {
    start = Number(m[1]);
    end = m[2] === "" ? size - 1 : Math.min(Number(m[2]), size - 1);
  }
  if (start >= size || start > end) return "unsatisfiable";
  return [start, end];
}
