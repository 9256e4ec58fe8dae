import { createHash } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { HCP_BOX, HCP_ORGANIZATION, HCP_PROVIDER, HCP_VERSION, VAGRANT_CATALOG } from "../fixtures/mirror/recorded.js";

/**
 * A stand-in for a box host that is closing, on 127.0.0.1: an API host answering the HCP
 * Vagrant API v2 (organisation, box) and plain Vagrant catalogs in their recorded shapes
 * (test/fixtures/mirror/recorded.ts), whose download URLs redirect (302) to a second server,
 * the "storage host" (another origin: another port), as vagrantcloud.com's do. Storage serves
 * the bytes with ETag and Range, and misbehaves on request: a checksum that lies, a body cut in
 * the middle, 503s, a slow link. Every request is recorded with its Range and Authorization.
 */
export type Checksum = "md5" | "sha1" | "sha256" | "sha384" | "sha512";

export interface SourceFileSpec {
  org: string;
  box: string;
  version: string;
  provider: string;
  /** As the catalog writes it: amd64/arm64 (HCP), or x86_64/aarch64 (a hand-written catalog). */
  arch: string;
  defaultArch?: boolean;
  checksumType: Checksum;
  body: Buffer;
  /** HCP's version status (default active). */
  status?: "active" | "unreleased" | "revoked";
  /** The catalog's checksum is of other bytes. */
  lie?: boolean;
  /**
   * The version's description: HCP's `description_markdown` (and a `description_html` made of
   * it); a plain catalog's version `description`. Unset: the recorded HCP version's text, and
   * no description in a plain catalog (as the recorded one has none).
   */
  versionDescription?: string;
}

/** A box's own text: HCP's short_description and description_markdown; a plain catalog's description. */
export interface SourceBoxText {
  short?: string;
  markdown?: string;
}

export interface StorageFault {
  /** The first `cutTimes` (default 1) requests send this many bytes of the body, then drop the connection. */
  cutAfter?: number;
  cutTimes?: number;
  /** After the cuts, this many requests are answered 503. */
  fail503?: number;
  /** Pace the body (for killing a mirror mid-file). */
  bytesPerSecond?: number;
}

export interface RecordedRequest {
  host: "api" | "storage";
  path: string;
  range?: string;
  authorization?: string;
}

export class MirrorSource {
  readonly files: SourceFileSpec[] = [];
  readonly faults = new Map<string, StorageFault>();
  readonly requests: RecordedRequest[] = [];
  /** Per `org/box`: its text instead of the recorded one. */
  readonly boxText = new Map<string, SourceBoxText>();
  /** When set, /api/* needs `Authorization: Bearer <token>` (a private organisation). */
  apiToken: string | undefined;
  active = 0;
  maxActive = 0;
  private readonly apiServer: Server = createServer((q, s) => this.handleApi(q, s));
  private readonly storageServer: Server = createServer((q, s) => this.handleStorage(q, s));
  private apiPort = 0;
  private storagePort = 0;

  static async start(): Promise<MirrorSource> {
    const s = new MirrorSource();
    s.apiPort = await listen(s.apiServer);
    s.storagePort = await listen(s.storageServer);
    return s;
  }

  get api(): string {
    return `http://127.0.0.1:${this.apiPort}`;
  }
  get storage(): string {
    return `http://127.0.0.1:${this.storagePort}`;
  }

  add(spec: SourceFileSpec): string {
    this.files.push(spec);
    return objectId(spec);
  }

  /** A plain Vagrant catalog of one box on the API host; its URLs are the API host's download URLs (redirected). */
  catalogUrl(org: string, box: string): string {
    return `${this.api}/catalogs/${org}/${box}.json`;
  }

  /** The checksum the source advertises for a file (a lying one for `lie`). */
  advertised(spec: SourceFileSpec): string {
    return digest(spec.checksumType, spec.lie ? Buffer.concat([spec.body, Buffer.from("lie")]) : spec.body);
  }

  async close(): Promise<void> {
    for (const s of [this.apiServer, this.storageServer]) {
      s.closeAllConnections();
      await new Promise<void>((resolve) => s.close(() => resolve()));
    }
  }

  private downloadUrl(f: SourceFileSpec): string {
    return `${this.api}/${f.org}/boxes/${f.box}/versions/${f.version}/providers/${f.provider}/${f.arch}/vagrant.box`;
  }

  private hcpProvider(f: SourceFileSpec): unknown {
    return {
      ...HCP_PROVIDER,
      name: f.provider,
      hosted: true,
      original_url: null,
      download_url: this.downloadUrl(f),
      checksum: this.advertised(f),
      checksum_type: f.checksumType,
      architecture: f.arch,
      default_architecture: f.defaultArch ?? f.arch === "amd64",
    };
  }

  private versionsOf(org: string, box: string): Array<{ version: string; status: string; description?: string; files: SourceFileSpec[] }> {
    const out = new Map<string, { version: string; status: string; description?: string; files: SourceFileSpec[] }>();
    for (const f of this.files.filter((x) => x.org === org && x.box === box)) {
      const v = out.get(f.version) ?? { version: f.version, status: f.status ?? "active", ...(f.versionDescription === undefined ? {} : { description: f.versionDescription }), files: [] };
      v.files.push(f);
      out.set(f.version, v);
    }
    return [...out.values()];
  }

  private hcpBox(org: string, box: string): unknown | undefined {
    const versions = this.versionsOf(org, box).map((v) => ({
      ...HCP_VERSION,
      version: v.version,
      number: v.version,
      status: v.status,
      ...(v.description === undefined ? {} : { description_markdown: v.description, description_html: `<p>${v.description}</p>\n` }),
      release_url: `${this.api}/api/v2/box/${org}/${box}/version/${v.version}/release`,
      revoke_url: `${this.api}/api/v2/box/${org}/${box}/version/${v.version}/revoke`,
      providers: v.files.map((f) => this.hcpProvider(f)),
    }));
    if (versions.length === 0) return undefined;
    const active = versions.filter((v) => v.status === "active");
    const t = this.boxText.get(`${org}/${box}`);
    const text = t === undefined ? {} : { short_description: t.short ?? "", description_markdown: t.markdown ?? "", description_html: t.markdown ? `<p>${t.markdown}</p>\n` : "" };
    return { ...HCP_BOX, ...text, tag: `${org}/${box}`, name: box, username: org, private: false, current_version: active.at(-1) ?? null, versions };
  }

  private handleApi(req: IncomingMessage, res: ServerResponse): void {
    const path = new URL(req.url ?? "/", this.api).pathname;
    this.requests.push({ host: "api", path, ...(req.headers.range ? { range: req.headers.range } : {}), ...(req.headers.authorization ? { authorization: req.headers.authorization } : {}) });
    const json = (status: number, body: unknown) => {
      const text = JSON.stringify(body);
      res.writeHead(status, { "Content-Type": "application/json; charset=utf-8", "Content-Length": Buffer.byteLength(text) }).end(text);
    };
    if (path.startsWith("/api/") && this.apiToken !== undefined && req.headers.authorization !== `Bearer ${this.apiToken}`) {
      return json(401, { errors: ["You are not authorized to access this resource."], success: false });
    }
    let m = /^\/api\/v2\/user\/([^/]+)$/.exec(path);
    if (m) {
      const org = m[1]!;
      const boxes = [...new Set(this.files.filter((f) => f.org === org).map((f) => f.box))];
      if (boxes.length === 0) return json(404, { errors: ["Resource not found!"], success: false });
      // The listing's boxes carry their current version only; the mirror reads each box for all of them.
      const listed = boxes.map((b) => {
        const { versions: _all, ...rest } = this.hcpBox(org, b) as Record<string, unknown>;
        return rest;
      });
      return json(200, { ...HCP_ORGANIZATION, username: org, boxes: listed });
    }
    m = /^\/api\/v2\/box\/([^/]+)\/([^/]+)$/.exec(path);
    if (m) {
      const box = this.hcpBox(m[1]!, m[2]!);
      return box === undefined ? json(404, { errors: ["Resource not found!"], success: false }) : json(200, box);
    }
    m = /^\/catalogs\/([^/]+)\/([^/]+)\.json$/.exec(path);
    if (m) {
      const [org, box] = [m[1]!, m[2]!];
      const versions = this.versionsOf(org, box).filter((v) => v.status === "active");
      if (versions.length === 0) return json(404, { errors: ["Resource not found!"], success: false });
      const template = VAGRANT_CATALOG.versions[0]!.providers[0]!;
      return json(200, {
        ...VAGRANT_CATALOG,
        ...(this.boxText.has(`${org}/${box}`) ? { description: this.boxText.get(`${org}/${box}`)!.markdown ?? "" } : {}),
        name: `${org}/${box}`,
        versions: versions.map((v) => ({
          version: v.version,
          ...(v.description === undefined ? {} : { description: v.description }),
          providers: v.files.map((f) => ({
            ...template,
            name: f.provider,
            // Relative to the catalog, as hand-written catalogs often are.
            url: `../../${f.org}/boxes/${f.box}/versions/${f.version}/providers/${f.provider}/${f.arch}/vagrant.box`,
            checksum_type: f.checksumType,
            checksum: this.advertised(f),
            architecture: f.arch,
            default_architecture: f.defaultArch ?? (f.arch === "amd64" || f.arch === "x86_64"),
          })),
        })),
      });
    }
    m = /^\/([^/]+)\/boxes\/([^/]+)\/versions\/([^/]+)\/providers\/([^/]+)\/([^/]+)\/vagrant\.box$/.exec(path);
    if (m) {
      const f = this.files.find((x) => x.org === m![1] && x.box === m![2] && x.version === m![3] && x.provider === m![4] && x.arch === m![5]);
      if (!f) return json(404, { errors: ["Resource not found!"], success: false });
      // Like the real host: a short-lived presigned URL on the storage host.
      res.writeHead(302, { Location: `${this.storage}/objects/${objectId(f)}?X-Amz-Expires=300&X-Amz-Signature=0123abcd`, "Content-Length": 0 }).end();
      return;
    }
    json(404, { errors: ["Resource not found!"], success: false });
  }

  private handleStorage(req: IncomingMessage, res: ServerResponse): void {
    const path = new URL(req.url ?? "/", this.storage).pathname;
    this.requests.push({ host: "storage", path, ...(req.headers.range ? { range: req.headers.range } : {}), ...(req.headers.authorization ? { authorization: req.headers.authorization } : {}) });
    const id = /^\/objects\/([^/]+)$/.exec(path)?.[1];
    const f = this.files.find((x) => objectId(x) === id);
    if (!f || id === undefined) return void res.writeHead(404, { "Content-Type": "text/plain" }).end("NoSuchKey\n");
    const fault = this.faults.get(id) ?? {};
    if ((fault.cutTimes ?? 1) <= 0 && (fault.fail503 ?? 0) > 0) {
      fault.fail503! -= 1;
      return void res.writeHead(503, { "Content-Type": "text/plain" }).end("SlowDown\n");
    }
    const etag = `"${createHash("md5").update(f.body).digest("hex")}"`;
    let start = 0;
    const range = /^bytes=(\d+)-$/.exec(req.headers.range ?? "");
    const ifRange = req.headers["if-range"];
    if (range && (ifRange === undefined || ifRange === etag)) start = Number(range[1]);
    if (start >= f.body.length && range) {
      return void res.writeHead(416, { "Content-Range": `bytes */${f.body.length}` }).end();
    }
    const headers: Record<string, string | number> = { "Content-Type": "application/octet-stream", ETag: etag, "Accept-Ranges": "bytes", "Content-Length": f.body.length - start };
    if (start > 0) headers["Content-Range"] = `bytes ${start}-${f.body.length - 1}/${f.body.length}`;
    res.writeHead(start > 0 ? 206 : 200, headers);
    let cut: number | undefined;
    if (fault.cutAfter !== undefined && (fault.cutTimes ?? 1) > 0) {
      fault.cutTimes = (fault.cutTimes ?? 1) - 1;
      cut = fault.cutAfter;
      this.faults.set(id, fault);
    }
    void this.send(res, f.body.subarray(start), cut, fault.bytesPerSecond);
  }

  private async send(res: ServerResponse, body: Buffer, cut: number | undefined, rate: number | undefined): Promise<void> {
    this.active++;
    this.maxActive = Math.max(this.maxActive, this.active);
    try {
      const chunk = 64 << 10;
      const end = cut ?? body.length;
      for (let off = 0; off < end; off += chunk) {
        if (res.destroyed) return;
        const piece = body.subarray(off, Math.min(off + chunk, end));
        if (!res.write(piece)) await new Promise((r) => res.once("drain", r));
        if (rate !== undefined) await new Promise((r) => setTimeout(r, (piece.length / rate) * 1000));
        else if (off % (chunk * 4) === 0) await new Promise((r) => setImmediate(r)); // let other downloads overlap
      }
      if (cut !== undefined) res.destroy();
      else res.end();
    } finally {
      this.active--;
    }
  }
}

export function objectId(f: Pick<SourceFileSpec, "org" | "box" | "version" | "provider" | "arch">): string {
  return `${f.org}-${f.box}-${f.version}-${f.provider}-${f.arch}`;
}

export function digest(type: Checksum, body: Buffer): string {
  return createHash(type).update(body).digest("hex");
}

function listen(server: Server): Promise<number> {
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve((server.address() as AddressInfo).port)));
}
