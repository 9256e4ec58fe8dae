import { request as httpRequest, type ClientRequest, type IncomingMessage } from "node:http";
import { request as httpsRequest } from "node:https";
import { JobError } from "../errors.js";

/** Why a request to the source failed, as data: `retryable` says whether trying again may help. */
export class SourceError extends JobError {
  constructor(
    message: string,
    readonly retryable: boolean,
    readonly status?: number,
  ) {
    super(message);
  }
}

export interface SourceClientOptions {
  /** Sent as `Authorization: Bearer` to `tokenOrigin` only (the API host); never to a host a redirect leads to. */
  readonly token?: string;
  readonly tokenOrigin?: string;
  /** Connecting may take this long (default 30 s). */
  readonly connectTimeoutMs?: number;
  /** A response that sends nothing for this long is given up (default 120 s). */
  readonly idleTimeoutMs?: number;
}

const MAX_REDIRECTS = 10;
const MAX_JSON_BYTES = 32 << 20;
const REDIRECTS = new Set([301, 302, 303, 307, 308]);

/**
 * HTTP GETs against a box source (a catalog host, the HCP API, and the storage hosts its
 * downloads redirect to). Redirects are followed by hand so the token goes only where it was
 * given for: Vagrant's own downloader (curl without --location-trusted) does the same, and a
 * presigned storage URL must never see the API token.
 */
export class SourceClient {
  private readonly connectMs: number;
  private readonly idleMs: number;
  constructor(private readonly opts: SourceClientOptions = {}) {
    this.connectMs = opts.connectTimeoutMs ?? 30_000;
    this.idleMs = opts.idleTimeoutMs ?? 120_000;
  }

  /** GET a JSON document (a catalog, an API answer); 404 is a SourceError with status 404. */
  async getJson(url: string): Promise<unknown> {
    const { res, url: final } = await this.open(url, { Accept: "application/json" });
    if (res.statusCode !== 200) {
      res.resume();
      throw new SourceError(`GET ${shown(final)}: ${res.statusCode} ${res.statusMessage ?? ""}`.trim(), retryableStatus(res.statusCode), res.statusCode);
    }
    const chunks: Buffer[] = [];
    let size = 0;
    try {
      for await (const c of res) {
        size += (c as Buffer).length;
        if (size > MAX_JSON_BYTES) throw new SourceError(`GET ${shown(final)}: the answer is larger than ${MAX_JSON_BYTES >> 20} MiB; not a catalog`, false);
        chunks.push(c as Buffer);
      }
    } catch (err) {
      res.destroy();
      if (err instanceof SourceError) throw err;
      throw new SourceError(`GET ${shown(final)}: the answer was cut off (${oneLine((err as Error).message)})`, true);
    }
    try {
      return JSON.parse(Buffer.concat(chunks).toString("utf8"));
    } catch {
      throw new SourceError(`GET ${shown(final)}: the answer is not JSON (expected a Vagrant catalog or an HCP Vagrant API answer)`, false);
    }
  }

  /**
   * GET `url`, following redirects; returns the final response (any status but a redirect),
   * unread, and the URL it came from. The caller reads or discards the body.
   */
  async open(url: string, headers: Record<string, string> = {}, signal?: AbortSignal): Promise<{ res: IncomingMessage; url: URL }> {
    let current = parseHttpUrl(url);
    for (let hop = 0; ; hop++) {
      const res = await this.once(current, headers, signal);
      if (!REDIRECTS.has(res.statusCode ?? 0)) return { res, url: current };
      res.resume();
      const location = res.headers.location;
      if (hop >= MAX_REDIRECTS) throw new SourceError(`GET ${shown(parseHttpUrl(url))}: more than ${MAX_REDIRECTS} redirects`, false);
      if (!location) throw new SourceError(`GET ${shown(current)}: ${res.statusCode} without a Location`, false);
      let next: URL;
      try {
        next = new URL(location, current);
      } catch {
        throw new SourceError(`GET ${shown(current)}: redirect to an invalid URL`, false);
      }
      if (next.protocol !== "http:" && next.protocol !== "https:") throw new SourceError(`GET ${shown(current)}: redirect to a ${next.protocol} URL (only http and https are followed)`, false);
      if (current.protocol === "https:" && next.protocol === "http:") throw new SourceError(`GET ${shown(current)}: redirect from https to plain http refused`, false);
      current = next;
    }
  }

  private once(url: URL, headers: Record<string, string>, signal?: AbortSignal): Promise<IncomingMessage> {
    const h: Record<string, string> = { "User-Agent": "homelab-box-mirror", ...headers };
    // Only the origin the token was given for: a storage host a redirect leads to gets none.
    if (this.opts.token !== undefined && this.opts.tokenOrigin !== undefined && sameTokenHost(url.origin, this.opts.tokenOrigin)) h.Authorization = `Bearer ${this.opts.token}`;
    const req = (url.protocol === "https:" ? httpsRequest : httpRequest)(url, { method: "GET", headers: h, ...(signal ? { signal } : {}) });
    this.timeouts(req, url);
    req.end();
    return new Promise<IncomingMessage>((resolve, reject) => {
      req.once("response", (res) => {
        // The idle timeout keeps watching the body: a source that stalls mid-file is given up.
        resolve(res);
      });
      req.once("error", (err) => {
        if (err instanceof SourceError) return reject(err);
        if ((err as Error).name === "AbortError") return reject(err);
        reject(new SourceError(`GET ${shown(url)}: ${oneLine((err as Error).message)}`, true));
      });
    });
  }

  private timeouts(req: ClientRequest, url: URL): void {
    req.setTimeout(this.idleMs, () => req.destroy(new SourceError(`GET ${shown(url)}: nothing received for ${this.idleMs / 1000} s (timed out)`, true)));
    req.once("socket", (socket) => {
      if (!socket.connecting) return;
      const timer = setTimeout(() => req.destroy(new SourceError(`GET ${shown(url)}: could not connect within ${this.connectMs / 1000} s (timed out)`, true)), this.connectMs);
      socket.once("connect", () => clearTimeout(timer));
      req.once("close", () => clearTimeout(timer));
    });
  }
}

/**
 * HCP Vagrant's own names for one host: its API answers on all three and its download URLs use
 * vagrantcloud.com whichever was asked. Vagrant itself treats them as one for its token
 * (hashicorp/vagrant plugins/commands/cloud/auth/middleware/add_authentication.rb,
 * REPLACEMENT_HOSTS and TARGET_HOST).
 */
const HCP_ORIGINS = ["https://vagrantcloud.com", "https://app.vagrantup.com", "https://atlas.hashicorp.com"];

function sameTokenHost(origin: string, tokenOrigin: string): boolean {
  return origin === tokenOrigin || (HCP_ORIGINS.includes(origin) && HCP_ORIGINS.includes(tokenOrigin));
}

/** 5xx, 408 and 429 may go away; anything else will answer the same again. */
export function retryableStatus(status: number | undefined): boolean {
  return status === undefined || status >= 500 || status === 408 || status === 429;
}

export function parseHttpUrl(text: string): URL {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new SourceError(`${JSON.stringify(text)}: not a URL`, false);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") throw new SourceError(`${text}: only http and https URLs can be mirrored from`, false);
  return url;
}

/** The URL without its query (a presigned URL's signature stays out of logs). */
export function shown(url: URL): string {
  return `${url.origin}${url.pathname}`;
}

function oneLine(text: string): string {
  return text.replace(/\s*[\r\n]+\s*/g, " ").trim();
}
