import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { PassThrough } from "node:stream";
import { HomelabError, InputError } from "../errors.js";
import type { BoxBackend } from "./backend.js";
import { vagrantCatalog, versionStatus, type Catalog, type CatalogVersion } from "./catalog.js";
import { fsckRegistry } from "./fsck.js";
import { formatBoxRef } from "./names.js";
import { isSafePath, parseRequestPath, type Route } from "./request-path.js";
import { sendFile } from "./send-file.js";
import { BoxStore, ConflictError, CorruptCatalogError, NoSpaceError, NotFoundError, OutsideRootError, UploadTooLargeError, type PublishResult } from "./store.js";
import { AccessRules, type AccessConfig } from "./tokens.js";
import { handleVagrantApi, type UploadSpec, type VagrantApiDeps } from "./vagrant-api/handler.js";
import { isApiPath } from "./vagrant-api/routes.js";
import { renderBoxPage, renderIndexPage, sendPage, wantsHtml, type PageBox } from "./web-page.js";

export { parseRange } from "./send-file.js";

export interface RegistryServerOptions extends AccessConfig {
  /** The directory store's root; ignored when `backend` is given (an S3 bucket: s3-store.ts). */
  readonly root?: string;
  /** Where boxes are kept (default: the directory store at `root`). */
  readonly backend?: BoxBackend;
  readonly host?: string;
  /** 0 picks a free port. */
  readonly port?: number;
  /** Base URL written into catalogs instead of http://<Host header> (behind a proxy). */
  readonly publicUrl?: string;
  /** One line per request (method, path, status, and why when it failed); silent when omitted. */
  readonly log?: (line: string) => void;
  /** Largest upload accepted, in bytes (default DEFAULT_MAX_UPLOAD_BYTES). */
  readonly maxUploadBytes?: number;
  /**
   * A connection that sends and receives nothing for this long is cut; an upload cut so is
   * answered 408 (default DEFAULT_IDLE_TIMEOUT_MS). There is no limit on a request's total
   * time: a slow but steady upload of a big box must not be cut.
   */
  readonly idleTimeoutMs?: number;
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

export const DEFAULT_MAX_UPLOAD_BYTES = 64 * 1024 ** 3;
export const DEFAULT_IDLE_TIMEOUT_MS = 120_000;
/** Complete request headers must arrive within this (slowloris). */
const HEADERS_TIMEOUT_MS = 30_000;

const HOST_HEADER = /^(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$/;

/** Why an upload was aborted by the server (the AbortSignal's reason). */
type AbortReason = "shutdown" | "idle";

/** Starts the box registry HTTP server on a directory store or another backend. */
export async function startRegistryServer(opts: RegistryServerOptions): Promise<RegistryServer> {
  if (opts.backend === undefined && opts.root === undefined) throw new InputError("the registry server needs a root directory or a backend");
  const store: BoxBackend = opts.backend ?? (await BoxStore.open(opts.root!));
  const maxUpload = opts.maxUploadBytes ?? DEFAULT_MAX_UPLOAD_BYTES;
  const idleMs = opts.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS;
  const log = (line: string): void => opts.log?.(line);
  if (store instanceof BoxStore) {
    // Leftovers of a killed or starved predecessor (this process may have its pid: PID 1 in a container).
    const swept = await fsckRegistry(store, { repair: "junk" });
    for (const f of swept.repaired) log(`sweep: removed ${f.kind} ${f.path}`);
    for (const f of swept.findings.filter((x) => !swept.repaired.includes(x))) log(`sweep: ${f.kind} ${f.path}: ${f.detail} (see homelab box fsck)`);
  }

  const access = new AccessRules(opts);
  const uploads = new Map<Socket, AbortController>();
  const inFlight = new Set<Promise<void>>();
  /** Why a request failed, appended to its log line. */
  const why = new WeakMap<ServerResponse, string>();
  let closing = false;

  const server: Server = createServer({ requestTimeout: 0, headersTimeout: HEADERS_TIMEOUT_MS });
  server.timeout = idleMs;
  server.on("timeout", (socket: Socket) => {
    const upload = uploads.get(socket);
    if (upload) upload.abort("idle" satisfies AbortReason);
    else socket.destroy();
  });
  server.on("clientError", (err: NodeJS.ErrnoException, socket: Socket) => {
    const status = err.code === "HPE_HEADER_OVERFLOW" ? 431 : err.code === "ERR_HTTP_REQUEST_TIMEOUT" ? 408 : 400;
    log(`- - ${status} malformed request (${err.code ?? err.message})`);
    // A request whose head was fine but whose body is not (a bad chunk): its handler is still
    // waiting for the body and has answered nothing yet, so the answer is written here.
    const pending = (socket as Socket & { _httpMessage?: ServerResponse })._httpMessage;
    if (pending && !pending.headersSent && socket.writable) {
      why.set(pending, `malformed request body (${err.code ?? err.message})`);
      const body = `${JSON.stringify({ error: `malformed request body (${err.code ?? "parse error"})` })}\n`;
      socket.end(`HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
    } else if (socket.writable && !pending) {
      socket.end(`HTTP/1.1 ${status} ${status === 431 ? "Request Header Fields Too Large" : status === 408 ? "Request Timeout" : "Bad Request"}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
    } else socket.destroy();
  });
  const dispatch = (expectContinue: boolean) => (req: IncomingMessage, res: ServerResponse) => {
    const done = handle(req, res, expectContinue).catch((err: unknown) => {
      why.set(res, `internal error: ${oneLine(err)}`);
      if (!res.headersSent) sendJson(res, 500, { error: "internal error" });
      else res.destroy();
    });
    inFlight.add(done);
    void done.finally(() => inFlight.delete(done));
  };
  server.on("request", dispatch(false));
  // Without this listener Node answers "100 Continue" before anyone looked at the token.
  server.on("checkContinue", dispatch(true));

  async function handle(req: IncomingMessage, res: ServerResponse, expectContinue: boolean): Promise<void> {
    const shown = redactUrl(req.url ?? "");
    res.on("finish", () => log(`${req.method} ${shown} ${res.statusCode}${why.has(res) ? ` ${why.get(res)}` : ""}`));
    res.on("close", () => {
      if (!res.writableFinished) log(`${req.method} ${shown} aborted: ${why.get(res) ?? "the client closed the connection"}`);
    });
    const fail = (status: number, message: string, logged = message): void => {
      why.set(res, logged);
      sendError(res, req, status, message);
    };
    const rawPath = (req.url ?? "").replace(/\?.*$/s, "");
    if (isApiPath(rawPath) && isSafePath(rawPath)) {
      const query = new URLSearchParams((req.url ?? "").slice(rawPath.length + 1));
      return handleVagrantApi(req, res, rawPath, query, apiDeps(fail), expectContinue);
    }
    const parsed = parseRequestPath(req.url ?? "");
    if ("status" in parsed) return void fail(parsed.status, parsed.reason);
    const { route, query } = parsed;
    const method = req.method ?? "GET";
    if (route.kind === "health") return void (method === "GET" || method === "HEAD" ? sendText(res, req, 200, "ok\n") : notAllowed(res, req, "GET, HEAD"));

    if (method === "GET" || method === "HEAD") {
      const token = bearer(req) ?? query.get("access_token") ?? undefined;
      const org = "box" in route ? route.box.org : undefined;
      // A private org needs a token that may read it; the index needs some token when every org is private.
      if (org !== undefined ? !access.canRead(token, org) : access.allPrivate && access.holders(token).length === 0) return void denied(res, req, token);
      try {
        // The page carries a token on its links only when this request brought it in its URL.
        const pageToken = bearer(req) === undefined ? (query.get("access_token") ?? undefined) : undefined;
        if (route.kind === "index") return await sendIndex(req, res, token, pageToken);
        if (route.kind === "catalog") return await sendCatalog(req, res, route, pageToken);
        if (route.kind === "provider" && route.architecture !== undefined) return await sendBox(req, res, route);
      } catch (err) {
        if (err instanceof CorruptCatalogError) return void fail(500, corruptMessage(err), err.message);
        throw err;
      }
      return void fail(404, "GET a catalog (/org/name) or a box (/org/name/version/provider/architecture)");
    }
    if (method === "PUT" || method === "DELETE") {
      if (!access.writable) return void fail(403, "uploads are disabled: the server has no write token configured");
      // A write token in the URL ends up in proxies' and shells' logs: only the header counts.
      const token = bearer(req);
      if (token === undefined && query.has("access_token")) {
        res.setHeader("WWW-Authenticate", 'Bearer realm="homelab"');
        return void fail(401, "send the write token in an Authorization: Bearer header, not in the URL");
      }
      if (!("box" in route ? access.canWrite(token, route.box.org) : access.holders(token).some((h) => h.access === "write"))) return void denied(res, req, token);
      if (method === "PUT" && (route.kind === "version" || route.kind === "provider")) {
        const spec: UploadSpec = {
          box: route.box,
          version: route.version,
          ...(route.kind === "provider" ? { provider: route.provider } : {}),
          ...(route.kind === "provider" && route.architecture ? { architecture: route.architecture } : {}),
          force: query.get("force") === "1" || query.get("force") === "true",
          ...(query.has("default_architecture") ? { defaultArchitecture: query.get("default_architecture") !== "0" } : {}),
          // ?release=0: a version this upload creates stays unreleased (out of Vagrant's catalog).
          ...(query.get("release") === "0" ? { status: "unreleased" as const } : {}),
        };
        const result = await receiveBox(req, res, spec, expectContinue, fail);
        if (result) sendJson(res, result.replaced ? 200 : 201, result);
        return;
      }
      if (method === "DELETE" && (route.kind === "version" || route.kind === "provider")) return deleteBox(res, route, fail);
      return void fail(404, "PUT or DELETE /org/name/version[/provider[/architecture]]");
    }
    notAllowed(res, req, "GET, HEAD, PUT, DELETE");
  }

  function baseUrl(req: IncomingMessage): string | undefined {
    if (opts.publicUrl) return opts.publicUrl.replace(/\/+$/, "");
    const host = req.headers.host;
    return host !== undefined && HOST_HEADER.test(host) ? `http://${host}` : undefined;
  }

  /** The deps Vagrant's API handler works with (vagrant-api/handler.ts), answering through this server's helpers. */
  function apiDeps(fail: (status: number, message: string, logged?: string) => void): VagrantApiDeps {
    return {
      backend: store,
      access,
      base: baseUrl,
      sendCatalog: (req, res, box) => sendCatalog(req, res, { kind: "catalog", box }),
      receive: (req, res, spec, expectContinue) => receiveBox(req, res, spec, expectContinue, fail),
      fail: (_res, status, message, logged) => fail(status, message, logged),
      json: (res, status, body) => sendJson(res, status, body),
    };
  }

  async function sendIndex(req: IncomingMessage, res: ServerResponse, token: string | undefined, pageToken?: string): Promise<void> {
    const boxes: PageBox[] = [];
    for (const ref of (await store.listBoxes()).filter((b) => access.canRead(token, b.org))) {
      const catalog = await store.readCatalog(ref).catch(() => undefined);
      // The page shows every state (a reader sees why a version is not offered); JSON is Vagrant's view.
      if (catalog) boxes.push({ ref, catalog });
    }
    // A browser gets the web page; Vagrant, curl and `homelab box list` (Accept: application/json or */*) get JSON.
    res.setHeader("Vary", "Accept");
    if (wantsHtml(req)) {
      const base = baseUrl(req);
      if (base === undefined) return void sendError(res, req, 400, "missing or invalid Host header");
      return sendPage(req, res, renderIndexPage(boxes, { baseUrl: base, ...(pageToken === undefined ? {} : { accessToken: pageToken }) }));
    }
    sendJson(res, 200, { boxes: boxes.map((b) => vagrantCatalog(b.catalog)) }, req.method === "HEAD");
  }

  async function sendCatalog(req: IncomingMessage, res: ServerResponse, route: Extract<Route, { kind: "catalog" }>, pageToken?: string): Promise<void> {
    const base = baseUrl(req);
    if (base === undefined) return void sendError(res, req, 400, "missing or invalid Host header");
    const catalog = await store.readCatalog(route.box).catch(storeRefusal);
    if (!catalog) return void sendError(res, req, 404, `no box ${formatBoxRef(route.box)}`);
    res.setHeader("Vary", "Accept");
    if (wantsHtml(req)) return sendPage(req, res, renderBoxPage({ ref: route.box, catalog }, { baseUrl: base, ...(pageToken === undefined ? {} : { accessToken: pageToken }) }));
    const prefix = `${base}/${route.box.org}/${route.box.name}`;
    const shown = vagrantCatalog(catalog);
    const absolute: Catalog = {
      ...shown,
      versions: shown.versions.map((v) => ({
        ...v,
        providers: v.providers.map((p) => ({ ...p, url: `${prefix}/${v.version}/${p.name}/${p.architecture}` })),
      })),
    };
    res.setHeader("Cache-Control", "no-cache");
    sendJson(res, 200, absolute, req.method === "HEAD");
  }

  async function sendBox(req: IncomingMessage, res: ServerResponse, route: Extract<Route, { kind: "provider" }>): Promise<void> {
    const found = await store.openDownload(route.box, route.version, route.provider, route.architecture!).catch(storeRefusal);
    if (!found) return void sendError(res, req, 404, "no such box file");
    const refused = downloadRefusal(found.version);
    if (refused) {
      if (found.kind === "local") await found.close();
      why.set(res, refused.message);
      return void sendError(res, req, refused.status, refused.message);
    }
    if (found.kind === "redirect") {
      // A presigned storage URL: Vagrant follows it without sending our token to that host.
      res.setHeader("Location", found.url);
      res.setHeader("Cache-Control", "no-store");
      return void sendText(res, req, 302, "redirecting to the box's storage\n");
    }
    const { size, etag } = found;
    try {
      const open = (start: number, end: number) => {
        const body = found.open(start, end);
        // A store that fails mid-body (an object store's connection): the log says so.
        body.once("error", (err) => why.set(res, `reading the box failed: ${oneLine(err)}`));
        return body;
      };
      await sendFile(req, res, { size, etag, open, ...(found.fh ? { fh: found.fh } : {}) }, (status, message) => sendError(res, req, status, message));
    } finally {
      await found.close();
    }
  }

  /** Streams an upload into the store; answers every failure itself and then resolves undefined. */
  async function receiveBox(
    req: IncomingMessage,
    res: ServerResponse,
    spec: UploadSpec,
    expectContinue: boolean,
    fail: (status: number, message: string, logged?: string) => void,
  ): Promise<PublishResult | undefined> {
    if (closing) return void fail(503, "the server is shutting down");
    const header = req.headers["content-length"];
    const length = header === undefined ? undefined : Number(header);
    if (length !== undefined && length > maxUpload) return void fail(413, `the upload is larger than the maximum upload size (${maxUpload} bytes)`);
    if (length !== undefined) {
      try {
        await store.assertFreeSpace(length);
      } catch (err) {
        if (err instanceof NoSpaceError) return void fail(507, "not enough free space in the registry for this box", err.message);
        throw err;
      }
    }
    const ctl = new AbortController();
    const socket = req.socket;
    uploads.set(socket, ctl);
    // The store reads a stream of its own: when it fails (a full disk, a bad box), the request
    // stays open and can still be answered; a client that goes away ends the stream with an error.
    const body = new PassThrough({ highWaterMark: 1 << 20 });
    body.on("error", () => {}); // the store reports it; after the store is done, nobody listens
    if (spec.observe) req.on("data", spec.observe);
    req.pipe(body);
    req.on("close", () => {
      if (!req.complete) body.destroy(new Error("the client closed the connection"));
    });
    if (expectContinue) res.writeContinue();
    const label = `upload ${redactUrl(req.url ?? "").replace(/\?.*$/, "")}`;
    const { observe: _observe, ...publish } = spec;
    try {
      return await store.publish(body, {
        ...publish,
        label,
        ...(length !== undefined && Number.isInteger(length) && length >= 0 ? { total: length } : {}),
        maxBytes: maxUpload,
        signal: ctl.signal,
      });
    } catch (err) {
      req.unpipe(body);
      if (!req.complete) {
        // Answer while the client is still sending, and keep reading (and dropping) what it
        // sends for a moment: closing at once with unread data makes the kernel send a reset,
        // which can destroy the answer before the client reads it. Then cut the connection.
        lingering.add(res);
        req.resume();
        res.once("finish", () => setTimeout(() => req.complete || socket.destroy(), LINGER_MS).unref());
      }
      const reason = ctl.signal.reason as AbortReason | undefined;
      if (closing || reason === "shutdown") fail(503, "the server is shutting down; the upload was discarded");
      else if (reason === "idle") fail(408, `no data for ${idleMs / 1000} s (idle timeout); the upload was discarded`);
      else if (req.destroyed && !req.complete) why.set(res, `the client closed the connection; the upload was discarded`);
      else if (err instanceof UploadTooLargeError) fail(413, `the upload is larger than the maximum upload size (${maxUpload} bytes)`);
      else if (err instanceof NoSpaceError) fail(507, "the registry's disk is full; the upload was discarded", err.message);
      else if (err instanceof ConflictError) fail(409, err.message);
      else if (err instanceof OutsideRootError) fail(403, "refused: that path leads outside the registry root", err.message);
      else if (err instanceof CorruptCatalogError) fail(500, corruptMessage(err), err.message);
      else if (err instanceof InputError) fail(400, err.message);
      else if (err instanceof HomelabError) fail(500, "the upload failed on the server; see its log", err.message);
      else throw err;
      if (req.destroyed && !res.headersSent) res.destroy();
      return undefined;
    } finally {
      uploads.delete(socket);
    }
  }

  async function deleteBox(res: ServerResponse, route: Extract<Route, { kind: "version" | "provider" }>, fail: (status: number, message: string, logged?: string) => void): Promise<void> {
    try {
      const removed = await store.remove({
        ...route.box,
        version: route.version,
        ...(route.kind === "provider" ? { provider: route.provider } : {}),
        ...(route.kind === "provider" && route.architecture ? { architecture: route.architecture } : {}),
      });
      sendJson(res, 200, { removed: removed.map((p) => ({ provider: p.name, architecture: p.architecture })) });
    } catch (err) {
      if (err instanceof NotFoundError) return void fail(404, err.message);
      if (err instanceof OutsideRootError) return void fail(403, "refused: that path leads outside the registry root", err.message);
      if (err instanceof CorruptCatalogError) return void fail(500, corruptMessage(err), err.message);
      if (err instanceof NoSpaceError) return void fail(507, "the registry's disk is full", err.message);
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
      for (const ctl of uploads.values()) ctl.abort("shutdown" satisfies AbortReason);
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

/**
 * Box files of versions not (or no longer) released are not served: an unreleased one is not
 * there yet for Vagrant (404), a revoked one is gone and says why (410).
 */
function downloadRefusal(v: CatalogVersion): { status: number; message: string } | undefined {
  const status = versionStatus(v);
  if (status === "unreleased") return { status: 404, message: `version ${v.version} is not released` };
  if (status === "revoked") return { status: 410, message: `version ${v.version} was revoked${v.revoked_reason ? `: ${v.revoked_reason}` : ""}` };
  return undefined;
}

/** What a client is told about a corrupt catalog: which box, what to run; never the server's paths. */
function corruptMessage(err: CorruptCatalogError): string {
  return `the catalog of ${err.box} is corrupt; run \`homelab box fsck\` on the server`;
}

/** `?access_token=…` never reaches a log, nor an upload URL's ticket (a credential for an hour). */
export function redactUrl(url: string): string {
  return url.replace(/([?&]access_token=)[^&]*/gi, "$1REDACTED").replace(/(\/api\/v[12]\/uploads\/)[^/?]+/, "$1REDACTED");
}

function oneLine(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).replace(/\s*\n\s*/g, " ");
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

/** Failed uploads whose rest is being read and dropped before the connection is cut. */
const lingering = new WeakSet<ServerResponse>();
const LINGER_MS = 2000;

function sendError(res: ServerResponse, req: IncomingMessage, status: number, message: string): void {
  // An upload refused before its body was read: close the connection rather than drain gigabytes.
  if (req.method === "PUT" && !req.complete && !lingering.has(res)) res.setHeader("Connection", "close");
  // `error` for homelab's own client, `errors` in the shape Vagrant's and Packer's clients read.
  sendJson(res, status, { error: message, errors: [message] }, req.method === "HEAD");
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
