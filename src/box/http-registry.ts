import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { stat } from "node:fs/promises";
import { request as httpRequest, type IncomingMessage } from "node:http";
import { request as httpsRequest } from "node:https";
import { Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import { InputError, JobError } from "../errors.js";
import { parseCatalog, type Catalog } from "./catalog.js";
import { type BoxRef, type BoxSelector } from "./names.js";
import { ConflictError, NotFoundError, type PublishRequest, type PublishResult } from "./store.js";

/** What a remote publish takes: the store's request, reading from a file instead of a stream. */
export type RemotePublish = Omit<PublishRequest, "label" | "total"> & { readonly file: string };

/**
 * A registry reached over HTTP (`homelab box serve` elsewhere). Uploads stream the file with
 * its Content-Length and hash it on the way; the server's checksum must match ours.
 */
export class HttpRegistry {
  private readonly base: URL;
  constructor(
    url: string,
    private readonly token: string | undefined,
  ) {
    this.base = new URL(url.endsWith("/") ? url : `${url}/`);
  }

  async publish(p: RemotePublish): Promise<PublishResult> {
    if (p.architecture !== undefined && p.provider === undefined) throw new InputError("--architecture needs --provider when publishing over HTTP");
    if (this.token === undefined) throw new InputError(`publishing to ${this.base.origin} needs a token: pass --token or set HOMELAB_REGISTRY_TOKEN`);
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
      throw new JobError(`PUT ${url.href}: ${(uploadErr as Error | undefined)?.message ?? (err as Error).message}`);
    });
    const body = await readBody(res);
    if (res.statusCode === 200 || res.statusCode === 201) {
      await upload;
      p.onProgress?.({ bytes, total: size });
      const result = JSON.parse(body) as PublishResult;
      const ours = hash.digest("hex");
      if (result.checksum !== ours) {
        throw new JobError(`${url.href}: the registry stored checksum ${result.checksum} but the file hashes to ${ours}; publish again (with --force)`);
      }
      return result;
    }
    req.destroy();
    throw this.failure("PUT", url, res.statusCode ?? 0, body);
  }

  async catalogs(name?: BoxRef): Promise<Catalog[]> {
    const url = new URL(name ? `${name.org}/${name.name}` : "", this.base);
    const res = await waitResponse(this.request("GET", url, { Accept: "application/json" }).end() as ReturnType<HttpRegistry["request"]>);
    const body = await readBody(res);
    if (res.statusCode === 404 && name) return [];
    if (res.statusCode !== 200) throw this.failure("GET", url, res.statusCode ?? 0, body);
    if (name) return [parseCatalog(body, url.href)];
    const index = JSON.parse(body) as { boxes?: unknown[] };
    return (index.boxes ?? []).map((b) => parseCatalog(JSON.stringify(b), url.href));
  }

  async remove(sel: BoxSelector): Promise<void> {
    if (this.token === undefined) throw new InputError(`removing from ${this.base.origin} needs a token: pass --token or set HOMELAB_REGISTRY_TOKEN`);
    const path = [sel.org, sel.name, sel.version, sel.provider, sel.architecture].filter((s) => s !== undefined).join("/");
    const url = new URL(path, this.base);
    const res = await waitResponse(this.request("DELETE", url, {}).end() as ReturnType<HttpRegistry["request"]>);
    const body = await readBody(res);
    if (res.statusCode !== 200) throw this.failure("DELETE", url, res.statusCode ?? 0, body);
  }

  private request(method: string, url: URL, headers: Record<string, string>) {
    const h = this.token === undefined ? headers : { ...headers, Authorization: `Bearer ${this.token}` };
    return (url.protocol === "https:" ? httpsRequest : httpRequest)(url, { method, headers: h });
  }

  private failure(method: string, url: URL, status: number, body: string): Error {
    let message = body.trim();
    try {
      message = (JSON.parse(body) as { error?: string }).error ?? message;
    } catch {
      /* not JSON: keep the text */
    }
    const text = `${method} ${url.origin}${url.pathname}: ${status} ${message}`;
    if (status === 409) return new ConflictError(text);
    if (status === 404) return new NotFoundError(text);
    if (status === 400 || status === 401 || status === 403) return new InputError(text);
    return new JobError(text);
  }
}

function waitResponse(req: ReturnType<typeof httpRequest>): Promise<IncomingMessage> {
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

