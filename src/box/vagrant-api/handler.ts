import { createHash, type Hash } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { HomelabError, InputError } from "../../errors.js";
import type { BoxBackend } from "../backend.js";
import { findProvider, versionStatus, type Catalog, type CatalogVersion } from "../catalog.js";
import { formatBoxRef, isArchitecture, isBoxName, isOrg, isProvider, isVersion, type Architecture, type BoxRef } from "../names.js";
import { ConflictError, CorruptCatalogError, NoSpaceError, NotFoundError, OutsideRootError, type PublishRequest, type PublishResult } from "../store.js";
import { releaseChange, revokeChange } from "../release-state.js";
import type { AccessRules } from "../tokens.js";
import { readJsonBody, section, stringField } from "./request-body.js";
import { parseApiPath, versionRule } from "./routes.js";
import { boxJson, organizationJson, pendingJson, providerJson, versionJson, visibleVersions, type ShapeContext } from "./shapes.js";
import { signTicket, TICKET_LIFETIME_S, verifyTicket, type UploadTicket } from "./upload-ticket.js";

/** An upload as the server's upload machinery takes it (it adds the label, size limits and abort). */
export type UploadSpec = Omit<PublishRequest, "label" | "total" | "maxBytes" | "signal" | "onProgress"> & {
  /** Sees every byte of the body as it arrives (a checksum of a type the store does not compute). */
  readonly observe?: (chunk: Buffer) => void;
};

/** What the API needs from the HTTP server around it. */
export interface VagrantApiDeps {
  readonly backend: BoxBackend;
  readonly access: AccessRules;
  /** http://host:port as the client reached us, or undefined when the Host header is not usable. */
  base(req: IncomingMessage): string | undefined;
  /** Answers with Vagrant's catalog of a box (the same as GET /org/box). */
  sendCatalog(req: IncomingMessage, res: ServerResponse, box: BoxRef): Promise<void>;
  /** Streams the body into the backend; answers every failure itself (413, 507, 408, 409…) and then resolves undefined. */
  receive(req: IncomingMessage, res: ServerResponse, spec: UploadSpec, expectContinue: boolean): Promise<PublishResult | undefined>;
  /** Answers an error (Vagrant's `{"errors": [...]}` shape) and notes why for the request's log line. */
  fail(res: ServerResponse, status: number, message: string, logged?: string): void;
  json(res: ServerResponse, status: number, body: unknown): void;
}

const CHECKSUM_TYPES: Readonly<Record<string, number>> = { md5: 32, sha1: 40, sha256: 64, sha384: 96, sha512: 128 };

/**
 * Vagrant Cloud's API (v1 and v2 paths) over a BoxBackend: authenticate, organisation, box,
 * version (create, update, release, revoke, delete), provider (create, update, delete),
 * upload URLs (direct with a callback, and indirect), and the v2 catalog path Vagrant >= 2.4
 * expands `org/box` to. Every success is a 200 (Packer 1.6.6 accepts nothing else).
 */
export async function handleVagrantApi(req: IncomingMessage, res: ServerResponse, path: string, query: URLSearchParams, deps: VagrantApiDeps, expectContinue: boolean): Promise<void> {
  const parsed = parseApiPath(path);
  if ("status" in parsed) return deps.fail(res, parsed.status, parsed.reason);
  const { route, api } = parsed;
  const method = req.method ?? "GET";
  const base = deps.base(req);
  if (base === undefined) return deps.fail(res, 400, "missing or invalid Host header");
  const headerToken = bearer(req);
  // A token in the URL ends up in logs: it counts for reads only (VAGRANT_SERVER_ACCESS_TOKEN_BY_URL).
  const token = headerToken ?? (method === "GET" || method === "HEAD" ? (query.get("access_token") ?? undefined) : undefined);
  const { access, backend } = deps;
  const apiRoot = `/api/${api}`;
  const ctx = (org: string): ShapeContext => ({ base, apiRoot, private: access.readNeedsToken(org), owner: access.canWrite(token, org) });

  const allowed = (methods: string[]): boolean => {
    if (methods.includes(method)) return true;
    res.setHeader("Allow", methods.join(", "));
    deps.fail(res, 405, `method ${method} not allowed here`);
    return false;
  };
  const denied = (what: string): void => {
    res.setHeader("WWW-Authenticate", 'Bearer realm="homelab"');
    if (token === undefined) deps.fail(res, 401, `${what} needs a token (Authorization: Bearer)`);
    else if (access.holders(token).length === 0) deps.fail(res, 401, "the token is not valid");
    else deps.fail(res, 403, `the token may not ${what}`);
  };
  const mayRead = (org: string): boolean => {
    if (access.canRead(token, org)) return true;
    denied(`read ${org}`);
    return false;
  };
  const mayWrite = (org: string): boolean => {
    if (!access.writable) {
      deps.fail(res, 403, "uploads are disabled: the server has no write token configured");
      return false;
    }
    if (access.canWrite(token, org)) return true;
    if (query.has("access_token") && headerToken === undefined) {
      res.setHeader("WWW-Authenticate", 'Bearer realm="homelab"');
      deps.fail(res, 401, "send the token in an Authorization: Bearer header, not in the URL");
      return false;
    }
    denied(`write to ${org}`);
    return false;
  };
  const body = async (): Promise<Record<string, unknown> | undefined> => {
    const b = await readJsonBody(req);
    if (b.ok) return b.body;
    deps.fail(res, b.status, b.reason);
    return undefined;
  };
  const catalogOf = async (box: BoxRef): Promise<Catalog | undefined> => {
    const c = await backend.readCatalog(box);
    if (!c) deps.fail(res, 404, `no box ${formatBoxRef(box)}`);
    return c;
  };
  const versionOf = (c: Catalog, box: BoxRef, version: string, owner: boolean): CatalogVersion | undefined => {
    const v = visibleVersions(c, owner).find((x) => x.version === version);
    if (!v) deps.fail(res, 404, `no version ${version} of ${formatBoxRef(box)}`);
    return v;
  };

  try {
    switch (route.kind) {
      case "authenticate": {
        if (!allowed(["GET", "POST", "DELETE"])) return;
        if (method === "POST") {
          return deps.fail(res, 400, "this registry does not log in with a password: ask its administrator for a token and run `vagrant cloud auth login --token TOKEN`");
        }
        const holders = access.holders(headerToken);
        if (holders.length === 0) {
          res.setHeader("WWW-Authenticate", 'Bearer realm="homelab"');
          return deps.fail(res, 401, headerToken === undefined ? "a token is required (Authorization: Bearer)" : "the token is not valid");
        }
        // Logging out (DELETE) forgets the token on the client; it lives on in the access file.
        const h = holders[0]!;
        return deps.json(res, 200, method === "DELETE" ? {} : { user: { username: h.name }, token: { description: h.name, access: strongest(holders), orgs: h.orgs } });
      }

      case "organization": {
        if (!allowed(["GET"]) || !mayRead(route.org)) return;
        const boxes: { ref: BoxRef; catalog: Catalog }[] = [];
        for (const ref of (await backend.listBoxes()).filter((b) => b.org === route.org)) {
          const catalog = await backend.readCatalog(ref).catch(() => undefined);
          if (catalog) boxes.push({ ref, catalog });
        }
        return deps.json(res, 200, organizationJson(route.org, boxes, ctx(route.org)));
      }

      case "search": {
        if (!allowed(["GET", "HEAD"])) return;
        const q = (query.get("q") ?? "").toLowerCase();
        const provider = query.get("provider") ?? undefined;
        const limit = Math.min(100, Math.max(1, Number(query.get("limit")) || 10));
        const page = Math.max(1, Math.floor(Number(query.get("page")) || 1));
        const sort = query.get("sort") ?? "downloads";
        const found: { ref: BoxRef; box: Record<string, unknown> }[] = [];
        for (const ref of (await backend.listBoxes()).filter((b) => access.canRead(token, b.org))) {
          const catalog = await backend.readCatalog(ref).catch(() => undefined);
          if (!catalog) continue;
          const box = boxJson(ref, catalog, ctx(ref.org), { versions: false });
          const current = box.current_version as { providers: { name: string }[] } | null;
          // Like Vagrant Cloud: only boxes with a released version are found.
          if (!current || (provider !== undefined && !current.providers.some((p) => p.name === provider))) continue;
          const text = `${formatBoxRef(ref)}\n${catalog.short_description ?? ""}\n${catalog.description}`.toLowerCase();
          if (q === "" || text.includes(q)) found.push({ ref, box });
        }
        // Nothing counts downloads here: "downloads" (the default) orders by name.
        const key = sort === "created" ? "created_at" : sort === "updated" ? "updated_at" : undefined;
        found.sort((a, b) => (key ? String(a.box[key]).localeCompare(String(b.box[key])) : 0) || formatBoxRef(a.ref).localeCompare(formatBoxRef(b.ref)));
        // Dates newest first unless asked otherwise; names A to Z unless asked otherwise.
        const order = query.get("order");
        if (order === "desc" || (order === null && key !== undefined)) found.reverse();
        // Only `boxes`: the gem's search response refuses keys it does not know.
        return deps.json(res, 200, { boxes: found.slice((page - 1) * limit, page * limit).map((f) => f.box) });
      }

      case "boxes": {
        if (!allowed(["POST"])) return;
        const b = await body();
        if (!b) return;
        const s = section(b, "box");
        const org = stringField(s, "username", 64);
        const name = stringField(s, "name", 128);
        if (typeof org !== "string" || typeof name !== "string") return deps.fail(res, 400, "a new box needs username (its organisation) and name");
        const ref = checkedRef(org, name);
        if (!ref) return deps.fail(res, 400, `invalid box name ${JSON.stringify(`${org}/${name}`)} (org: lowercase letters, digits and '-'; name: letters, digits, '.', '_' and '-')`);
        if (!mayWrite(ref.org)) return;
        const fields = boxFields(s, access.readNeedsToken(ref.org));
        if ("error" in fields) return deps.fail(res, 400, fields.error);
        const c = await backend.saveBox(ref, fields, "create");
        return deps.json(res, 200, boxJson(ref, c, ctx(ref.org)));
      }

      case "box": {
        if (!allowed(["GET", "HEAD", "PUT", "DELETE"])) return;
        const { box } = route;
        if (method === "GET" || method === "HEAD") {
          if (!mayRead(box.org)) return;
          const c = await catalogOf(box);
          return void (c && deps.json(res, 200, boxJson(box, c, ctx(box.org))));
        }
        if (!mayWrite(box.org)) return;
        if (method === "DELETE") {
          const c = await catalogOf(box);
          if (!c) return;
          await backend.removeBox(box);
          return deps.json(res, 200, boxJson(box, c, ctx(box.org)));
        }
        const b = await body();
        if (!b) return;
        const fields = boxFields(section(b, "box"), access.readNeedsToken(box.org));
        if ("error" in fields) return deps.fail(res, 400, fields.error);
        const c = await backend.saveBox(box, fields, "update");
        return deps.json(res, 200, boxJson(box, c, ctx(box.org)));
      }

      case "versions": {
        if (!allowed(["POST"]) || !mayWrite(route.box.org)) return;
        const b = await body();
        if (!b) return;
        const s = section(b, "version");
        const version = stringField(s, "version", 64);
        const description = stringField(s, "description");
        if (typeof version !== "string") return deps.fail(res, 400, "a new version needs version (X.Y.Z)");
        if (typeof description === "object") return deps.fail(res, 400, description.error);
        if (!isVersion(version)) return deps.fail(res, 400, versionRule(version));
        const v = await backend.saveVersion(route.box, version, { ...(description === undefined ? {} : { description }) }, "create");
        return deps.json(res, 200, versionJson(route.box, v, ctx(route.box.org)));
      }

      case "version": {
        if (!allowed(["GET", "HEAD", "PUT", "DELETE"])) return;
        const { box, version } = route;
        if (method === "GET" || method === "HEAD") {
          if (!mayRead(box.org)) return;
          const c = await catalogOf(box);
          const v = c && versionOf(c, box, version, access.canWrite(token, box.org));
          return void (v && deps.json(res, 200, versionJson(box, v, ctx(box.org))));
        }
        if (!mayWrite(box.org)) return;
        if (method === "DELETE") {
          const c = await catalogOf(box);
          const v = c && versionOf(c, box, version, true);
          if (!v) return;
          await backend.remove({ ...box, version });
          return deps.json(res, 200, versionJson(box, v, ctx(box.org)));
        }
        const b = await body();
        if (!b) return;
        const s = section(b, "version");
        const renamed = stringField(s, "version", 64);
        if (renamed !== undefined && renamed !== version) return deps.fail(res, 400, "a version's number cannot be changed; create a new version");
        const description = stringField(s, "description");
        if (typeof description === "object") return deps.fail(res, 400, description.error);
        const v = await backend.saveVersion(box, version, { ...(description === undefined ? {} : { description }) }, "update");
        return deps.json(res, 200, versionJson(box, v, ctx(box.org)));
      }

      case "release":
      case "revoke": {
        if (!allowed(["PUT"]) || !mayWrite(route.box.org)) return;
        const { box, version } = route;
        const b = await body();
        if (!b) return;
        const c = await catalogOf(box);
        const v = c && versionOf(c, box, version, true);
        if (!v) return;
        const what = `version ${version} of ${formatBoxRef(box)}`;
        // Vagrant's client sends no body; ours may say why (`{"reason": "..."}`).
        const reason = stringField(b, "reason", 1000) ?? stringField(section(b, "version"), "revoked_reason", 1000);
        if (typeof reason === "object") return deps.fail(res, 400, reason.error);
        const change = route.kind === "release" ? releaseChange(v, what) : revokeChange(v, what, reason);
        const next = await backend.saveVersion(box, version, change, "update");
        return deps.json(res, 200, versionJson(box, next, ctx(box.org)));
      }

      case "providers": {
        if (!allowed(["POST"]) || !mayWrite(route.box.org)) return;
        const { box, version } = route;
        const b = await body();
        if (!b) return;
        const s = section(b, "provider");
        const name = stringField(s, "name", 64);
        if (typeof name !== "string" || !isProvider(name)) return deps.fail(res, 400, `provider name: expected a name like libvirt or virtualbox, got ${JSON.stringify(s.name ?? null)}`);
        const fields = providerFields(s);
        if ("error" in fields) return deps.fail(res, 400, fields.error);
        const c = await catalogOf(box);
        const v = c && versionOf(c, box, version, true);
        if (!v) return;
        const taken = v.providers.some((p) => p.name === name && (fields.architecture === undefined || p.architecture === fields.architecture));
        if (taken) return deps.fail(res, 422, `provider ${name}${fields.architecture ? `/${fields.architecture}` : ""} already exists in version ${version} of ${formatBoxRef(box)}`);
        const pending = {
          name,
          ...(fields.architecture === undefined ? {} : { architecture: fields.architecture }),
          ...(fields.checksum === undefined ? {} : { checksum: fields.checksum, checksum_type: fields.checksum_type! }),
          created_at: new Date().toISOString(),
        };
        await backend.saveVersion(box, version, { addPending: pending }, "update");
        return deps.json(res, 200, pendingJson(pending));
      }

      case "provider": {
        if (!allowed(["GET", "HEAD", "PUT", "DELETE"])) return;
        const { box, version, provider, architecture } = route;
        const write = method === "PUT" || method === "DELETE";
        if (write ? !mayWrite(box.org) : !mayRead(box.org)) return;
        const owner = access.canWrite(token, box.org);
        const c = await catalogOf(box);
        const v = c && versionOf(c, box, version, owner);
        if (!v) return;
        const files = v.providers.filter((p) => p.name === provider && (architecture === undefined || p.architecture === architecture));
        const pending = (v.pending_providers ?? []).filter((p) => p.name === provider && (architecture === undefined || p.architecture === undefined || p.architecture === architecture));
        if (files.length === 0 && (pending.length === 0 || !owner)) return deps.fail(res, 404, `no provider ${provider}${architecture ? `/${architecture}` : ""} in version ${version} of ${formatBoxRef(box)}`);
        const shown = (): Record<string, unknown> => {
          const file = files.find((p) => p.default_architecture) ?? files[0];
          return file ? providerJson(box, v, file, ctx(box.org)) : pendingJson(pending[0]!);
        };
        if (method === "GET" || method === "HEAD") return deps.json(res, 200, shown());
        if (method === "DELETE") {
          const out = shown();
          if (pending.length > 0) await backend.saveVersion(box, version, { dropPending: { name: provider, ...(architecture ? { architecture } : {}) } }, "update");
          if (files.length > 0) await backend.remove({ ...box, version, provider, ...(architecture ? { architecture } : {}) });
          return deps.json(res, 200, out);
        }
        const b = await body();
        if (!b) return;
        const fields = providerFields(section(b, "provider"));
        if ("error" in fields) return deps.fail(res, 400, fields.error);
        if (fields.checksum !== undefined) {
          // An uploaded box's checksum is what it hashes to; only a sha256 that agrees is accepted.
          const disagrees = files.some((f) => fields.checksum_type !== "sha256" || f.checksum !== fields.checksum);
          if (disagrees) return deps.fail(res, 422, "the uploaded box's checksum is its sha256; upload the box again instead of changing its checksum");
          if (files.length === 0) {
            const p = pending[0]!;
            await backend.saveVersion(box, version, { addPending: { ...p, checksum: fields.checksum, checksum_type: fields.checksum_type! } }, "update");
            return deps.json(res, 200, pendingJson({ ...p, checksum: fields.checksum, checksum_type: fields.checksum_type! }));
          }
        }
        return deps.json(res, 200, shown());
      }

      case "upload":
      case "upload-direct": {
        if (!allowed(["GET"]) || !mayWrite(route.box.org)) return;
        const { box, version, provider, architecture } = route;
        const c = await catalogOf(box);
        const v = c && versionOf(c, box, version, true);
        if (!v) return;
        const announced = (v.pending_providers ?? []).some((p) => p.name === provider && (architecture === undefined || p.architecture === undefined || p.architecture === architecture));
        const existing = v.providers.filter((p) => p.name === provider && (architecture === undefined || p.architecture === architecture));
        if (!announced && existing.length === 0) return deps.fail(res, 404, `no provider ${provider} in version ${version} of ${formatBoxRef(box)}; create it before asking for an upload URL`);
        if (existing.length > 0 && versionStatus(v) !== "unreleased") return deps.fail(res, 409, immutable(box, version));
        const holder = access.holders(token).find((h) => h.access === "write" && (h.orgs === "*" || h.orgs.includes(box.org)))!;
        const ticket: UploadTicket = { box, version, provider, ...(architecture ? { architecture } : {}), expires: Math.floor(Date.now() / 1000) + TICKET_LIFETIME_S, direct: route.kind === "upload-direct" };
        const signed = signTicket(ticket, holder);
        const url = `${base}${apiRoot}/uploads/${signed}`;
        return deps.json(res, 200, route.kind === "upload-direct" ? { upload_path: url, callback: `${url}/complete` } : { upload_path: url, token: signed });
      }

      case "upload-put": {
        if (!allowed(["PUT"])) return;
        const check = verifyTicket(route.ticket, access);
        if (!check.ok) return deps.fail(res, 403, "this upload URL is not valid (expired, or its token was withdrawn); ask the API for a new one", check.reason);
        return await upload(req, res, check.ticket, deps, expectContinue, ctx(check.ticket.box.org));
      }

      case "upload-callback": {
        if (!allowed(["PUT"])) return;
        const check = verifyTicket(route.ticket, access);
        if (!check.ok) return deps.fail(res, 403, "this upload URL is not valid (expired, or its token was withdrawn)", check.reason);
        const t = check.ticket;
        if (!mayWrite(t.box.org)) return;
        const c = await catalogOf(t.box);
        const v = c && versionOf(c, t.box, t.version, true);
        if (!v) return;
        const file = v.providers.find((p) => p.name === t.provider && (t.architecture === undefined || p.architecture === t.architecture));
        if (!file) return deps.fail(res, 409, `no box has arrived for ${formatBoxRef(t.box)} ${t.version} ${t.provider}; upload it to upload_path first`);
        return deps.json(res, 200, providerJson(t.box, v, file, ctx(t.box.org)));
      }

      case "catalog": {
        if (!allowed(["GET", "HEAD"]) || !mayRead(route.box.org)) return;
        return await deps.sendCatalog(req, res, route.box);
      }
    }
  } catch (err) {
    if (res.headersSent) throw err;
    const mapped = statusOf(err);
    if (!mapped) throw err;
    deps.fail(res, mapped.status, mapped.message, (err as Error).message);
  }
}

/** The upload itself: only into an existing version, for an announced provider, with the promised checksum. */
async function upload(req: IncomingMessage, res: ServerResponse, t: UploadTicket, deps: VagrantApiDeps, expectContinue: boolean, ctx: ShapeContext): Promise<void> {
  const before = await deps.backend.readCatalog(t.box);
  const v = before?.versions.find((x) => x.version === t.version);
  if (!v) return deps.fail(res, 404, `no version ${t.version} of ${formatBoxRef(t.box)}`);
  const promise = (v.pending_providers ?? []).find((p) => p.name === t.provider && (t.architecture === undefined || p.architecture === undefined || p.architecture === t.architecture));
  const expected = promise?.checksum !== undefined && promise.checksum_type !== undefined ? { type: promise.checksum_type, value: promise.checksum.toLowerCase() } : undefined;
  const hash: Hash | undefined = expected && expected.type !== "sha256" ? createHash(expected.type) : undefined;
  const result = await deps.receive(
    req,
    res,
    {
      box: t.box,
      version: t.version,
      provider: t.provider,
      ...(t.architecture ? { architecture: t.architecture } : {}),
      // Replacing a box is allowed while its version is unreleased; beforeCommit checks again under the lock.
      force: versionStatus(v) === "unreleased",
      ...(hash ? { observe: (chunk: Buffer) => hash.update(chunk) } : {}),
      beforeCommit: ({ checksum, provider, architecture, catalog }) => {
        const now = catalog?.versions.find((x) => x.version === t.version);
        if (!now) throw new NotFoundError(`version ${t.version} of ${formatBoxRef(t.box)} was deleted during the upload`);
        const announced = (now.pending_providers ?? []).some((p) => p.name === provider && (p.architecture === undefined || p.architecture === architecture));
        const replaces = catalog && findProvider(catalog, t.version, provider, architecture);
        if (!announced && !replaces) throw new NotFoundError(`provider ${provider}/${architecture} was not created in version ${t.version} (or was deleted during the upload)`);
        if (replaces && versionStatus(now) !== "unreleased") throw new ConflictError(immutable(t.box, t.version));
        if (expected) {
          const actual = expected.type === "sha256" ? checksum : hash!.digest("hex");
          if (actual !== expected.value) throw new InputError(`the upload's ${expected.type} is ${actual}, but the provider was created with checksum ${expected.value}`);
        }
      },
    },
    expectContinue,
  );
  if (!result) return;
  const after = await deps.backend.readCatalog(t.box);
  const nv = after?.versions.find((x) => x.version === t.version);
  const entry = after && findProvider(after, t.version, result.provider, result.architecture);
  deps.json(res, 200, nv && entry ? providerJson(t.box, nv, entry, ctx) : result);
}

function immutable(box: BoxRef, version: string): string {
  return `version ${version} of ${formatBoxRef(box)} is released (or revoked); its boxes cannot be replaced. Publish a new version`;
}

/** The store's typed errors as statuses; undefined for anything else (a 500 upstream). */
export function statusOf(err: unknown): { status: number; message: string } | undefined {
  if (err instanceof NotFoundError) return { status: 404, message: err.message };
  if (err instanceof ConflictError) return { status: 422, message: err.message };
  if (err instanceof CorruptCatalogError) return { status: 500, message: `the catalog of ${err.box} is corrupt; run \`homelab box fsck\` on the server` };
  if (err instanceof OutsideRootError) return { status: 403, message: "refused: that path leads outside the registry root" };
  if (err instanceof NoSpaceError) return { status: 507, message: "the registry's disk is full" };
  if (err instanceof InputError) return { status: 400, message: err.message };
  if (err instanceof HomelabError) return { status: 500, message: "the request failed on the server; see its log" };
  return undefined;
}

function boxFields(s: Record<string, unknown>, orgPrivate: boolean): { description?: string; short_description?: string } | { error: string } {
  const description = stringField(s, "description");
  const short = stringField(s, "short_description", 1000);
  if (typeof description === "object") return description;
  if (typeof short === "object") return short;
  const priv = s.is_private ?? s.private;
  // Privacy is per organisation here (a read token scoped to it), not per box.
  if (priv !== undefined && priv !== null && priv !== orgPrivate) {
    return { error: `boxes here are ${orgPrivate ? "private" : "public"} as their organisation is: make an organisation private with a read token scoped to it in the server's access file` };
  }
  return { ...(description === undefined ? {} : { description }), ...(short === undefined ? {} : { short_description: short }) };
}

function providerFields(s: Record<string, unknown>): { architecture?: Architecture; checksum?: string; checksum_type?: string } | { error: string } {
  const url = stringField(s, "url", 4096);
  if (typeof url === "object") return url;
  if (url !== undefined && url !== "") return { error: "providers hosted elsewhere (a url) are not supported here: upload the box instead (Vagrant's client checks downloads against a checksum this registry computes)" };
  const arch = stringField(s, "architecture", 16);
  if (typeof arch === "object") return arch;
  if (arch !== undefined && !isArchitecture(arch)) return { error: `architecture: expected one of amd64, arm64, i386, arm, unknown, got ${JSON.stringify(arch)}` };
  const checksum = stringField(s, "checksum", 256);
  const type = stringField(s, "checksum_type", 16);
  if (typeof checksum === "object") return checksum;
  if (typeof type === "object") return type;
  if ((checksum === undefined || checksum === "") !== (type === undefined || type === "")) return { error: "checksum and checksum_type go together" };
  if (checksum === undefined || checksum === "") return { ...(arch === undefined ? {} : { architecture: arch }) };
  const t = type!.toLowerCase();
  const len = CHECKSUM_TYPES[t];
  if (len === undefined) return { error: `checksum_type: expected one of ${Object.keys(CHECKSUM_TYPES).join(", ")}, got ${JSON.stringify(type)}` };
  if (!new RegExp(`^[0-9a-fA-F]{${len}}$`).test(checksum)) return { error: `checksum: expected ${len} hex digits for ${t}` };
  return { ...(arch === undefined ? {} : { architecture: arch }), checksum: checksum.toLowerCase(), checksum_type: t };
}

function checkedRef(org: string, name: string): BoxRef | undefined {
  return isOrg(org) && isBoxName(name) ? { org, name } : undefined;
}

function strongest(holders: { access: "read" | "write" }[]): "read" | "write" {
  return holders.some((h) => h.access === "write") ? "write" : "read";
}

function bearer(req: IncomingMessage): string | undefined {
  const h = req.headers.authorization;
  const m = h === undefined ? null : /^Bearer\s+(\S+)\s*$/i.exec(h);
  return m?.[1];
}
