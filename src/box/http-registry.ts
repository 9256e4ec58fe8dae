import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { stat } from "node:fs/promises";
import { request as httpRequest, type ClientRequest, type IncomingMessage } from "node:http";
import { request as httpsRequest } from "node:https";
import { Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import { HomelabError, InputError, JobError } from "../errors.js";
import { parseCatalog, sortCatalog, VERSION_STATUSES, type Catalog, type CatalogProvider, type CatalogVersion, type VersionStatus } from "./catalog.js";
import { isArchitecture, isProvider, isVersion, type BoxRef, type BoxSelector } from "./names.js";
import { ConflictError, NotFoundError, type PublishRequest, type PublishResult } from "./store.js";

/** What a remote publish takes: the store's request, reading from a file instead of a stream. */
export type RemotePublish = Omit<PublishRequest, "label" | "total" | "beforeCommit"> & { readonly file: string };

export interface HttpRegistryOptions {
  /** Connecting (TCP and TLS) may take this long (default 30 s). */
  readonly connectTimeoutMs?: number;
  /** A connection that sends and receives nothing for this long is given up (default 120 s). */
  readonly idleTimeoutMs?: number;
}

/**
 * A registry reached over HTTP (`homelab box serve` elsewhere). Uploads stream the file with
 * its Content-Length and hash it on the way; the server's checksum must match ours. Every
 * failure (no answer, a reset, an answer that is not a registry's) is a one-line JobError.
 */
export class HttpRegistry {
  private readonly base: URL;
  private readonly connectMs: number;
  private readonly idleMs: number;
  constructor(
    url: string,
    private readonly token: string | undefined,
    opts: HttpRegistryOptions = {},
  ) {
    this.base = new URL(url.endsWith("/") ? url : `${url}/`);
    this.connectMs = opts.connectTimeoutMs ?? 30_000;
    this.idleMs = opts.idleTimeoutMs ?? 120_000;
  }

  async publish(p: RemotePublish): Promise<PublishResult> {
    if (p.architecture !== undefined && p.provider === undefined) throw new InputError("an architecture needs a provider when publishing over HTTP", { kind: "architecture-needs-provider" });
    if (this.token === undefined) throw new InputError(`publishing to ${this.base.origin} needs a token`, { kind: "token-needed" });
    let size: number;
    try {
      size = (await stat(p.file)).size;
    } catch {
      throw new InputError(`${p.file}: no such file`);
    }
    const path = [p.box.org, p.box.name, p.version, p.provider, p.architecture].filter((s) => s !== undefined).join("/");
    const query = new URLSearchParams();
    if (p.force) query.set("force", "1");
    if (p.defaultArchitecture !== undefined) query.set("default_architecture", p.defaultArchitecture ? "1" : "0");
    if (p.status === "unreleased") query.set("release", "0");
    const url = new URL(`${path}${query.size > 0 ? `?${query}` : ""}`, this.base);
    const hash = createHash("sha256");
    let bytes = 0;
    let last = 0;
    const tee = new Transform({
      transform(chunk: Buffer, _e, done) {
        hash.update(chunk);
        bytes += chunk.length;
        if (p.onProgress && bytes - last >= 8 << 20) {
          last = bytes;
          p.onProgress({ bytes, total: size });
        }
        done(null, chunk);
      },
    });
    const req = this.request("PUT", url, { "Content-Type": "application/octet-stream", "Content-Length": String(size) });
    const response = waitResponse(req);
    // The server may answer (401, 409) before the body is sent: the response decides, not the upload.
    const upload = pipeline(createReadStream(p.file, { highWaterMark: 1 << 20 }), tee, req, p.signal ? { signal: p.signal } : {}).catch((err: unknown) => err);
    const res = await response.catch(async (err: unknown) => {
      const uploadErr = await upload;
      if (err instanceof HomelabError) throw err;
      throw new JobError(`PUT ${shown(url)}: ${oneLine((uploadErr as Error | undefined)?.message ?? (err as Error).message)}`);
    });
    const body = await this.readBody(res, "PUT", url);
    if (res.statusCode === 200 || res.statusCode === 201) {
      await upload;
      p.onProgress?.({ bytes, total: size });
      const result = parseJson(body, "PUT", url) as Partial<PublishResult> | null;
      if (typeof result?.checksum !== "string") throw notRegistry("PUT", url, "the answer has no checksum");
      const ours = hash.digest("hex");
      if (result.checksum !== ours) {
        throw new JobError(`${shown(url)}: the registry stored checksum ${oneLine(result.checksum)} but the file hashes to ${ours}`, { kind: "stored-checksum-differs" });
      }
      return result as PublishResult;
    }
    req.destroy();
    throw this.failure("PUT", url, res.statusCode ?? 0, body);
  }

  /**
   * Catalogs with their release states: each box's record from Vagrant's API (which shows a
   * token that may write the unreleased versions too), else, from a server without the API,
   * the catalog Vagrant reads.
   */
  async catalogs(name?: BoxRef): Promise<Catalog[]> {
    const url = new URL(name ? `${name.org}/${name.name}` : "", this.base);
    const res = await this.send("GET", url, { Accept: "application/json" });
    const body = await this.readBody(res, "GET", url);
    if (res.statusCode !== 200 && !(res.statusCode === 404 && name)) throw this.failure("GET", url, res.statusCode ?? 0, body);
    let plain: Catalog[];
    if (res.statusCode === 404) plain = [];
    else if (name) plain = [parseCatalog(body, shown(url))];
    else {
      const index = parseJson(body, "GET", url) as { boxes?: unknown } | null;
      if (!Array.isArray(index?.boxes)) throw notRegistry("GET", url, 'no "boxes" list');
      plain = index.boxes.map((b) => parseCatalog(JSON.stringify(b), shown(url)));
    }
    const refs = name ? [name] : plain.map((c) => ({ org: c.name.split("/")[0]!, name: c.name.split("/")[1]! }));
    const out: Catalog[] = [];
    for (const ref of refs) {
      const full = await this.apiBox(ref);
      const fallback = plain.find((c) => c.name === `${ref.org}/${ref.name}`);
      if (full) out.push(full);
      else if (fallback) out.push(fallback);
    }
    return out;
  }

  /** Releases or revokes a version through Vagrant's API (`PUT .../release`, `.../revoke` with a reason). */
  async setReleaseState(ref: BoxRef, version: string, action: "release" | "revoke", reason?: string): Promise<VersionStatus> {
    if (this.token === undefined) throw new InputError(`changing ${this.base.origin} needs a token`, { kind: "token-needed" });
    const url = new URL(`api/v1/box/${ref.org}/${ref.name}/version/${version}/${action}`, this.base);
    const req = this.request("PUT", url, { "Content-Type": "application/json", Accept: "application/json" });
    req.end(action === "revoke" && reason !== undefined ? JSON.stringify({ reason }) : undefined);
    const res = await waitResponse(req).catch((err: unknown) => {
      if (err instanceof HomelabError) throw err;
      throw new JobError(`PUT ${shown(url)}: ${oneLine((err as Error).message)}`);
    });
    const body = await this.readBody(res, "PUT", url);
    if (res.statusCode !== 200) throw this.failure("PUT", url, res.statusCode ?? 0, body);
    const status = (parseJson(body, "PUT", url) as { status?: unknown } | null)?.status;
    if (typeof status !== "string" || !(VERSION_STATUSES as readonly string[]).includes(status)) throw notRegistry("PUT", url, "the answer has no release state");
    return status as VersionStatus;
  }

  /** Sets a box's descriptions through Vagrant's API (`PUT /api/v1/box/org/name`, as `vagrant cloud box update` does). */
  async describeBox(ref: BoxRef, fields: { description?: string; short_description?: string }): Promise<void> {
    await this.putJson(`api/v1/box/${ref.org}/${ref.name}`, { box: fields });
  }

  /** Sets a version's description through Vagrant's API (`PUT /api/v1/box/org/name/version/X`). */
  async describeVersion(ref: BoxRef, version: string, description: string): Promise<void> {
    await this.putJson(`api/v1/box/${ref.org}/${ref.name}/version/${version}`, { version: { description } });
  }

  private async putJson(path: string, body: unknown): Promise<void> {
    if (this.token === undefined) throw new InputError(`changing ${this.base.origin} needs a token`, { kind: "token-needed" });
    const url = new URL(path, this.base);
    const req = this.request("PUT", url, { "Content-Type": "application/json", Accept: "application/json" });
    req.end(JSON.stringify(body));
    const res = await waitResponse(req).catch((err: unknown) => {
      if (err instanceof HomelabError) throw err;
      throw new JobError(`PUT ${shown(url)}: ${oneLine((err as Error).message)}`);
    });
    const text = await this.readBody(res, "PUT", url);
    if (res.statusCode !== 200) throw this.failure("PUT", url, res.statusCode ?? 0, text);
  }

  /** A box's full record from Vagrant's API, or undefined when the server has none (no API, or no such box). */
  private async apiBox(ref: BoxRef): Promise<Catalog | undefined> {
    const url = new URL(`api/v1/box/${ref.org}/${ref.name}`, this.base);
    const res = await this.send("GET", url, { Accept: "application/json" });
    const body = await this.readBody(res, "GET", url);
    if (res.statusCode === 404) return undefined;
    if (res.statusCode !== 200) throw this.failure("GET", url, res.statusCode ?? 0, body);
    return catalogFromApi(parseJson(body, "GET", url), `${ref.org}/${ref.name}`, () => notRegistry("GET", url, "the box record is not Vagrant Cloud's shape"));
  }

  async remove(sel: BoxSelector): Promise<void> {
    if (this.token === undefined) throw new InputError(`removing from ${this.base.origin} needs a token`, { kind: "token-needed" });
    const path = [sel.org, sel.name, sel.version, sel.provider, sel.architecture].filter((s) => s !== undefined).join("/");
    const url = new URL(path, this.base);
    const res = await this.send("DELETE", url, {});
    const body = await this.readBody(res, "DELETE", url);
    if (res.statusCode !== 200) throw this.failure("DELETE", url, res.statusCode ?? 0, body);
  }

  /** A request without a body; its failure to connect or to answer is a one-line JobError. */
  private async send(method: string, url: URL, headers: Record<string, string>): Promise<IncomingMessage> {
    const req = this.request(method, url, headers);
    req.end();
    return waitResponse(req).catch((err: unknown) => {
      if (err instanceof HomelabError) throw err;
      throw new JobError(`${method} ${shown(url)}: ${oneLine((err as Error).message)}`);
    });
  }

  /** Both timeouts end the request with a JobError that says which one it was. */
  private request(method: string, url: URL, headers: Record<string, string>): ClientRequest {
    const h = this.token === undefined ? headers : { ...headers, Authorization: `Bearer ${this.token}` };
    const req = (url.protocol === "https:" ? httpsRequest : httpRequest)(url, { method, headers: h });
    req.setTimeout(this.idleMs, () => req.destroy(new JobError(`${method} ${shown(url)}: no answer for ${this.idleMs / 1000} s (timed out)`)));
    req.once("socket", (socket) => {
      if (!socket.connecting) return;
      const timer = setTimeout(() => req.destroy(new JobError(`${method} ${shown(url)}: could not connect within ${this.connectMs / 1000} s (timed out)`)), this.connectMs);
      socket.once("connect", () => clearTimeout(timer));
      req.once("close", () => clearTimeout(timer));
    });
    return req;
  }

  private async readBody(res: IncomingMessage, method: string, url: URL): Promise<string> {
    try {
      return await readBody(res);
    } catch (err) {
      if (err instanceof HomelabError) throw err;
      throw new JobError(`${method} ${shown(url)}: the answer was cut off (${oneLine((err as Error).message)})`);
    }
  }

  private failure(method: string, url: URL, status: number, body: string): Error {
    let message = body.trim();
    try {
      const parsed = JSON.parse(body) as { error?: string; errors?: unknown[] };
      message = parsed.error ?? (Array.isArray(parsed.errors) ? parsed.errors.join("; ") : message);
    } catch {
      /* not JSON: keep the text */
    }
    const text = `${method} ${shown(url)}: ${status} ${oneLine(String(message)).slice(0, 300)}`;
    if (status === 409) return new ConflictError(text);
    if (status === 404) return new NotFoundError(text);
    if (status === 400 || status === 401 || status === 403 || status === 413) return new InputError(text);
    return new JobError(text);
  }
}

/** Vagrant's API box record (vagrant-api/shapes.ts) back as a catalog with release states. */
function catalogFromApi(raw: unknown, name: string, bad: () => Error): Catalog {
  const j = raw as Record<string, unknown> | null;
  if (typeof j !== "object" || j === null || !Array.isArray(j.versions)) throw bad();
  const versions = j.versions.map((rv): CatalogVersion => {
    const v = rv as Record<string, unknown>;
    if (typeof v.version !== "string" || !isVersion(v.version) || !Array.isArray(v.providers)) throw bad();
    const status = typeof v.status === "string" && (VERSION_STATUSES as readonly string[]).includes(v.status) ? (v.status as VersionStatus) : "active";
    const providers = v.providers
      .map((rp) => rp as Record<string, unknown>)
      .filter((p) => p.uploaded !== false)
      .map((p): CatalogProvider => {
        if (typeof p.name !== "string" || !isProvider(p.name) || typeof p.architecture !== "string" || !isArchitecture(p.architecture) || typeof p.checksum !== "string") throw bad();
        return {
          name: p.name,
          url: typeof p.download_url === "string" ? p.download_url : "",
          checksum_type: "sha256",
          checksum: p.checksum,
          architecture: p.architecture,
          default_architecture: p.default_architecture === true,
          size: typeof p.size === "number" ? p.size : 0,
        };
      });
    return {
      version: v.version,
      providers,
      status,
      ...(typeof v.description === "string" && v.description !== "" ? { description: v.description } : {}),
      ...(typeof v.revoked_reason === "string" ? { revoked_reason: v.revoked_reason } : {}),
    };
  });
  return sortCatalog({ name, description: typeof j.description === "string" ? j.description : "", ...(typeof j.short_description === "string" ? { short_description: j.short_description } : {}), versions });
}

/** The URL without its query (where a token could be). */
function shown(url: URL): string {
  return `${url.origin}${url.pathname}`;
}

function oneLine(text: string): string {
  return text.replace(/\s*[\r\n]+\s*/g, " ").trim();
}

function parseJson(body: string, method: string, url: URL): unknown {
  try {
    return JSON.parse(body);
  } catch {
    throw notRegistry(method, url, "the answer is not valid JSON");
  }
}

function notRegistry(method: string, url: URL, why: string): JobError {
  return new JobError(`${method} ${shown(url)}: ${why}; is this a homelab registry (homelab box serve)?`);
}

function waitResponse(req: ClientRequest): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    req.once("response", resolve);
    req.once("error", reject);
  });
}

async function readBody(res: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of res) {
    size += (c as Buffer).length;
    if (size > 16 << 20) throw new JobError("the registry's answer is larger than 16 MiB; is this a homelab registry?");
    chunks.push(c as Buffer);
  }
  return Buffer.concat(chunks).toString("utf8");
}

export function isRegistryUrl(registry: string): boolean {
  return /^https?:\/\//i.test(registry);
}
