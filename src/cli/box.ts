import { Option, type Command } from "commander";
import { InputError } from "../errors.js";
import { findingDetail } from "./error-text.js";
import { formatSize } from "./format.js";
import { registerMirror } from "./box-mirror.js";
import { addStoreOptions, openStoreFlags, withRegistry, type StoreFlags } from "./box-store.js";
import { examples } from "./help.js";
import { portNumber, positiveInt } from "./options.js";

const REGISTRY_HELP = "registry: a directory (written directly) or the http(s) URL of `homelab box serve` (default: $HOMELAB_REGISTRY, else ./registry)";
const TOKEN_HELP = "bearer token for a URL registry (default: $HOMELAB_REGISTRY_TOKEN)";

function defaultRegistry(): string {
  return process.env.HOMELAB_REGISTRY ?? "registry";
}

export function register(program: Command): void {
  const box = program.command("box").description("A self-hosted Vagrant box registry: publish, list, release, revoke, rm, serve, fsck, mirror.");
  examples(box, [
    "homelab box publish out.box --name acme/node --box-version 1.0.0",
    "homelab box list",
    "homelab box serve --root registry --port 8080",
    "homelab box mirror bento/debian-12 --to registry",
  ]);

  const publish = box
    .command("publish")
    .summary("Publish a .box into a registry")
    .description("Publish a .box into a registry (streamed and hashed in one read; exit 1 if that version+provider+architecture exists).")
    .argument("<file>", "the .box file (tar or tar.gz with metadata.json)")
    .requiredOption("--name <org/box>", "box name, e.g. homelab/alpine-3.24-k8snode-kubeadm")
    .option("--box-version <X.Y.Z>", "box version (required; as `vagrant box add --box-version`)")
    // The first spelling; kept so scripts that use it keep working.
    .addOption(new Option("--version <X.Y.Z>", "the same as --box-version").hideHelp())
    .option("--provider <name>", "provider; checked against the box's metadata.json (default: taken from it)")
    .option("--architecture <arch>", "amd64, arm64 (or x86_64, aarch64); default: metadata.json's, else amd64")
    .option("--default-architecture", "make this the provider's default architecture (what Vagrant < 2.4 downloads)")
    .option("--registry <dir|url>", REGISTRY_HELP)
    .option("--token <token>", TOKEN_HELP)
    .option("-f, --force", "replace an existing version+provider+architecture")
    .option("--no-release", "a version this creates stays unreleased (not in the catalog Vagrant reads) until `homelab box release`");
  addStoreOptions(publish).action(async (file: string, opts: PublishFlags) => {
      const { InputError } = await import("../errors.js");
      const { parseArchitecture, parseBoxRef, parseProvider, parseVersion } = await import("../box/names.js");
      if (opts.boxVersion !== undefined && opts.version !== undefined) throw new InputError("--box-version and --version: give one (they are the same)");
      const typed = opts.boxVersion !== undefined ? "--box-version" : "--version";
      const given = opts.boxVersion ?? opts.version;
      if (given === undefined) throw new InputError("--box-version <X.Y.Z>: required (the version to publish the box as)");
      // Checked here so that a bad value is named by the flag it came from.
      const version = parseVersion(given, typed);
      parseBoxRef(opts.name, "--name");
      if (opts.provider !== undefined) parseProvider(opts.provider, "--provider");
      if (opts.architecture !== undefined) parseArchitecture(opts.architecture, "--architecture");
      const { publishBox } = await import("../box/publish.js");
      const { progressPrinter } = await import("./progress.js");
      const result = await withRegistry(opts, (registry) => {
        const progress = progressPrinter(file);
        return publishBox({
          file,
          name: opts.name,
          version,
          registry,
          ...(opts.provider === undefined ? {} : { provider: opts.provider }),
          ...(opts.architecture === undefined ? {} : { architecture: opts.architecture }),
          ...(opts.token === undefined ? {} : { token: opts.token }),
          ...(opts.force === undefined ? {} : { force: opts.force }),
          ...(opts.defaultArchitecture === undefined ? {} : { defaultArchitecture: true }),
          ...(opts.release === false ? { release: false } : {}),
          onProgress: progress.update,
        }).finally(progress.done);
      });
      const { paint } = await import("./colour.js");
      process.stdout.write(
        `${paint(process.stdout).green(result.replaced ? "replaced" : "published")} ${result.box}@${result.version} ${result.provider}/${result.architecture} ` +
          `(${formatSize(result.size)}, sha256 ${result.checksum}); version ${releaseWords(result.status ?? "active")}\n`,
      );
    });
  examples(publish, [
    "homelab box publish .homelab/builds/*/boxes/*-libvirt.box --name acme/node --box-version 1.2.0",
    "homelab box publish node.box --name acme/node --box-version 1.2.0 --registry http://reg:8080",
    "homelab box publish node.box --name acme/node --box-version 1.2.0 --store s3://boxes/registry",
  ]);

  const list = box
    .command("list")
    .summary("Show the boxes in a registry")
    .description("Show the boxes in a registry: versions, providers, architectures, sizes.")
    .argument("[org/box]", "only this box")
    .option("--registry <dir|url>", REGISTRY_HELP)
    .option("--token <token>", `${TOKEN_HELP} (for registries with protected reads)`)
    .option("--json", "print the catalogs as JSON");
  addStoreOptions(list).action(async (name: string | undefined, opts: StoreFlags & { registry?: string; token?: string; json?: boolean }) => {
      const { listRegistry } = await import("../box/publish.js");
      const { JobError } = await import("../errors.js");
      const catalogs = await withRegistry(opts, (registry) => listRegistry(registry, name, opts.token));
      if (name !== undefined && catalogs.length === 0) throw new JobError(`${name}: not in the registry`);
      if (opts.json) return void process.stdout.write(`${JSON.stringify(catalogs, null, 2)}\n`);
      const rows = [["BOX", "VERSION", "STATE", "PROVIDER", "ARCH", "SIZE", "SHA256"]];
      const revoked: string[] = [];
      for (const c of catalogs) {
        for (const v of [...c.versions].reverse()) {
          const state = v.status ?? "active";
          if (state === "revoked") revoked.push(`${c.name}@${v.version} revoked: ${v.revoked_reason ?? "no reason given"}`);
          if (v.providers.length === 0) rows.push([c.name, v.version, state, "-", "-", "-", "-"]);
          for (const p of v.providers) {
            rows.push([c.name, v.version, state, p.name, `${p.architecture}${p.default_architecture ? "*" : ""}`, formatSize(p.size), p.checksum.slice(0, 12)]);
          }
        }
      }
      if (rows.length === 1) return void process.stdout.write("no boxes\n");
      const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
      for (const r of rows) process.stdout.write(`${r.map((cell, i) => cell.padEnd(widths[i]!)).join("  ").trimEnd()}\n`);
      if (rows.some((r) => r[4]!.endsWith("*"))) process.stdout.write("* the provider's default architecture (what Vagrant < 2.4 downloads)\n");
      if (rows.some((r) => r[2] !== "active" && r[2] !== "STATE")) process.stdout.write("only active versions are in the catalog Vagrant reads\n");
      for (const line of revoked) process.stdout.write(`${line}\n`);
    });
  examples(list, ["homelab box list", "homelab box list acme/node --registry http://reg:8080 --json"]);

  for (const action of ["release", "revoke"] as const) {
    const cmd = box
      .command(action)
      .summary(action === "release" ? "Release a version (Vagrant sees it)" : "Revoke a released version, saying why")
      .description(
        action === "release"
          ? "Release a version: it enters the catalog Vagrant reads (`vagrant box add` and `vagrant box update` see it)."
          : "Revoke a released version: it leaves the catalog Vagrant reads and its downloads answer 410 with the reason.",
      )
      .argument("<what>", "org/box@version")
      .option("--registry <dir|url>", REGISTRY_HELP)
      .option("--token <token>", TOKEN_HELP);
    addStoreOptions(cmd);
    if (action === "revoke") cmd.option("--reason <text>", "why (shown by `homelab box list`, Vagrant's API and the refused download)");
    cmd.action(async (what: string, opts: StoreFlags & { registry?: string; token?: string; reason?: string }) => {
      const { parseBoxSelector } = await import("../box/names.js");
      const { setReleaseState } = await import("../box/publish.js");
      const sel = parseBoxSelector(what);
      if (sel.provider !== undefined) throw new InputError(`${what}: a whole version is ${action}d; give org/box@version`);
      const state = await withRegistry(opts, (registry) =>
        setReleaseState(registry, `${sel.org}/${sel.name}`, sel.version, action, {
          ...(opts.reason === undefined ? {} : { reason: opts.reason }),
          ...(opts.token === undefined ? {} : { token: opts.token }),
        }),
      );
      process.stdout.write(`${sel.org}/${sel.name}@${sel.version}: ${releaseWords(state)}\n`);
    });
    examples(cmd, action === "release" ? ["homelab box release acme/node@1.2.0"] : ['homelab box revoke acme/node@1.2.0 --reason "CVE-2026-1234 in openssl"']);
  }

  const rm = box
    .command("rm")
    .summary("Remove a version (or one provider of it)")
    .description("Remove a version, or one provider (and architecture) of it, from a registry.")
    .argument("<what>", "org/box@version[/provider[/arch]]")
    .option("--registry <dir|url>", REGISTRY_HELP)
    .option("--token <token>", TOKEN_HELP);
  addStoreOptions(rm).action(async (what: string, opts: StoreFlags & { registry?: string; token?: string }) => {
      const { parseBoxSelector } = await import("../box/names.js");
      const { removeFromRegistry } = await import("../box/publish.js");
      const sel = parseBoxSelector(what);
      const removed = await withRegistry(opts, (registry) => removeFromRegistry(registry, sel, opts.token));
      const detail = removed ? ` (${removed.map((p) => `${p.name}/${p.architecture}`).join(", ")})` : "";
      process.stdout.write(`removed ${what}${detail}\n`);
    });
  examples(rm, ["homelab box rm acme/node@1.0.0", "homelab box rm acme/node@1.0.0/libvirt/amd64", "homelab box rm acme/node@1.0.0 --store s3://boxes/registry"]);

  registerMirror(box);

  const fsck = box
    .command("fsck")
    .description(
      "Check a registry directory or S3 store: leftovers of killed publishes, box files no record names, records without a box file (in S3 also records that are not homelab's).",
    )
    .option("--registry <dir>", "registry directory (default: $HOMELAB_REGISTRY, else ./registry)")
    .option("--repair", "remove the leftovers and drop catalog entries whose file is gone (never touches files or objects homelab did not write)")
    .option("--grace <duration>", "S3: judge a box file no record names, or an unfinished upload, only once it is this old: another server may be publishing it (e.g. 30m, 2h, 0s; default 1h)", duration("--grace"));
  addStoreOptions(fsck).action(async (opts: StoreFlags & { registry?: string; repair?: boolean; grace?: number }) => {
      const { isRepairable } = await import("../box/fsck.js");
      const { JobError } = await import("../errors.js");
      const s3 = await openStoreFlags(opts, { flag: "--registry", value: opts.registry });
      let label: string;
      let report: import("../box/s3-fsck.js").S3FsckReport;
      if (s3 !== undefined) {
        const { fsckS3Registry } = await import("../box/s3-fsck.js");
        label = s3.label;
        report = await fsckS3Registry(s3, { ...(opts.repair ? { repair: true } : {}), ...(opts.grace === undefined ? {} : { graceMs: opts.grace }) }).finally(() => s3.destroy());
      } else {
        if (opts.grace !== undefined) throw new InputError("--grace goes with --store (a directory's publishes hold a lock fsck waits for)");
        const { BoxStore } = await import("../box/store.js");
        const { fsckRegistry } = await import("../box/fsck.js");
        label = opts.registry ?? defaultRegistry();
        if (/^https?:\/\//i.test(label)) throw new InputError(`--registry: fsck checks a registry directory, not a URL (run it where \`homelab box serve\` runs)`);
        if (/^s3:\/\//i.test(label)) throw new InputError(`HOMELAB_REGISTRY: an S3 bucket is given as --store ${label}`);
        report = { ...(await fsckRegistry(await BoxStore.open(label), opts.repair ? { repair: "all" } : {})), recent: [] };
      }
      for (const f of report.findings) {
        const state = report.recent.includes(f)
          ? "younger than the grace period: left alone"
          : report.repaired.includes(f)
            ? "repaired"
            : isRepairable(f.kind)
              ? "repairable"
              : "needs a human";
        process.stdout.write(`${f.kind}  ${f.path}  ${findingDetail(f)} (${state})\n`);
      }
      const left = report.findings.filter((f) => !report.repaired.includes(f) && !report.recent.includes(f));
      const recent = report.recent.length > 0 ? `, ${report.recent.length} too recent to judge` : "";
      process.stdout.write(
        report.findings.length === 0 ? `${label}: clean\n` : `${label}: ${report.findings.length} found, ${report.repaired.length} repaired, ${left.length} left${recent}\n`,
      );
      if (left.length > 0) {
        throw new JobError(`${label}: ${left.length} problem(s) left${left.some((f) => isRepairable(f.kind)) ? " (run with --repair)" : ""}`);
      }
    });
  examples(fsck, ["homelab box fsck --registry /srv/boxes", "homelab box fsck --registry /srv/boxes --repair", "homelab box fsck --store s3://boxes/registry --repair"]);

  const serve = box
    .command("serve")
    .summary("Serve a registry over HTTP for vagrant")
    .description("Serve a registry (a directory, or an S3 bucket shared by several servers) over HTTP for `vagrant box add http://HOST:PORT/org/box`.")
    .option("--root <dir>", "registry directory");
  addStoreOptions(serve, { serve: true });
  serve
    .option("--port <n>", "TCP port (0: any free port)", portNumber("--port"), 8080)
    .option("--host <addr>", "address to listen on (0.0.0.0 for the whole network)", "127.0.0.1")
    .option("--public-url <url>", "base URL written into catalogs (default: http://<Host header>)")
    .option("--token-file <file>", 'access tokens as JSON: {"writeTokens": [...], "readTokens": [...], "tokens": [{"token", "access", "orgs"}]}')
    // The first name of --token-file; -c/--config means homelab.yaml everywhere else.
    .addOption(new Option("--config <file>", "deprecated: --token-file").hideHelp())
    .option("--grace <seconds>", "on SIGTERM/SIGINT, how long in-flight downloads may run", positiveInt("--grace"), 60)
    .option("--max-upload-size <size>", "largest box accepted by PUT: bytes, or with K, M, G, T (powers of 1024)", byteSize("--max-upload-size"), 64 * 1024 ** 3)
    .option("--idle-timeout <seconds>", "cut a connection (an upload: 408) that sends nothing for this long; no limit on the total time", positiveInt("--idle-timeout"), 120)
    .option("-q, --quiet", "no request log")
    .addHelpText(
      "after",
      `
Access (from --token-file, else the environment):
  writeTokens / HOMELAB_REGISTRY_WRITE_TOKENS
      comma-separated bearer tokens allowed to PUT and DELETE (none: uploads are refused with 403)
  readTokens / HOMELAB_REGISTRY_READ_TOKENS
      when set, GET/HEAD need one of these (or a write token) as "Authorization: Bearer" or
      ?access_token= (Vagrant sends it with VAGRANT_SERVER_URL + VAGRANT_CLOUD_TOKEN)
  tokens (file only)
      tokens scoped per organisation, e.g.
      [{"name": "ci", "token": "...", "access": "write", "orgs": ["acme"]}]
      ("access": "read" or "write"; "orgs": a list, or "*"); a read token scoped to an org
      makes that org's reads need a token
  Tokens are at least 16 printable characters, e.g. \`openssl rand -hex 24\`.

S3 (--store s3://bucket/prefix):
  Keys from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (else the AWS SDK's chain: ~/.aws).
  The server must honour If-None-Match: * on PUT (AWS S3, Ceph radosgw); every server over one
  bucket lists the same catalog, and a version+provider+architecture is published once.

Vagrant Cloud's API (for \`vagrant cloud\` with VAGRANT_SERVER_URL=http://HOST:PORT, and Packer's
vagrant-cloud post-processor with vagrant_cloud_url = "http://HOST:PORT/api/v1"):
  /api/v1/..., /api/v2/...   authenticate, box, version, release, revoke, provider, upload URLs
  GET /api/v2/vagrant/org/box   the catalog (where Vagrant >= 2.4 looks up org/box)

Routes:
  GET|HEAD /org/box                                catalog (application/json)
  GET|HEAD /org/box/VERSION/PROVIDER/ARCH          the box (Range, ETag)
  PUT      /org/box/VERSION[/PROVIDER[/ARCH]]      upload (?force=1, ?release=0: unreleased)
  DELETE   /org/box/VERSION[/PROVIDER[/ARCH]]      remove
  GET      /   (index of catalogs)    GET /healthz

Examples:
  homelab box serve --root registry --port 8080
  homelab box serve --root registry --host 0.0.0.0 --token-file tokens.json
  homelab box serve --store s3://boxes/registry --s3-endpoint http://127.0.0.1:7480`,
    )
    .action(async (opts: ServeFlags) => {
      const { startRegistryServer } = await import("../box/server.js");
      const { loadAccessConfig } = await import("../box/tokens.js");
      if (opts.config !== undefined) {
        if (opts.tokenFile !== undefined) throw new (await import("../errors.js")).InputError("--token-file and --config: give one (--config is its old name)");
        process.stderr.write("homelab: warning: box serve --config is now --token-file (--config will go away)\n");
      }
      const access = await loadAccessConfig(opts.tokenFile ?? opts.config);
      const log = opts.quiet ? undefined : (line: string) => process.stderr.write(`${new Date().toISOString()} ${line}\n`);
      if ((opts.root === undefined) === (opts.store === undefined)) throw new InputError("box serve: give --root DIR or --store s3://bucket/prefix (one of them)");
      const store = await openStoreFlags(opts, { flag: "--root", value: opts.root });
      let where: { root: string } | { backend: import("../box/backend.js").BoxBackend };
      if (store !== undefined) {
        const { ABANDONED_UPLOAD_MS } = await import("../box/s3-store.js");
        // Parts of uploads a killed server left (no part written for a day; another server's live upload writes every few seconds).
        for (const key of await store.sweepAbandonedUploads(ABANDONED_UPLOAD_MS)) log?.(`sweep: aborted the unfinished upload ${key}`);
        where = { backend: store };
      } else where = { root: opts.root! };
      const server = await startRegistryServer({
        ...where,
        port: opts.port,
        host: opts.host,
        ...access,
        maxUploadBytes: opts.maxUploadSize,
        idleTimeoutMs: opts.idleTimeout * 1000,
        ...(opts.publicUrl === undefined ? {} : { publicUrl: opts.publicUrl }),
        ...(log === undefined ? {} : { log }),
      });
      const { AccessRules } = await import("../box/tokens.js");
      const rules = new AccessRules(access);
      const reads = rules.allPrivate ? "need a token" : (access.tokens ?? []).some((t) => t.access === "read") ? "need a token in some orgs" : "anonymous";
      process.stdout.write(`serving ${opts.root ?? opts.store} on ${server.url} (uploads ${rules.writable ? "need a token" : "disabled"}, reads ${reads})\n`);
      await new Promise<void>((resolve) => {
        const stop = (sig: string): void => {
          process.stderr.write(`${sig}: finishing downloads in flight, discarding uploads\n`);
          void server.close({ graceMs: opts.grace * 1000 }).then(resolve);
        };
        process.once("SIGTERM", () => stop("SIGTERM"));
        process.once("SIGINT", () => stop("SIGINT"));
      });
    });
}

/** A release state in words, for publish and release/revoke. */
function releaseWords(state: string): string {
  if (state === "unreleased") return "unreleased (not in the catalog Vagrant reads; `homelab box release` when ready)";
  if (state === "revoked") return "revoked (out of the catalog Vagrant reads)";
  return "active (released)";
}

interface PublishFlags extends StoreFlags {
  name: string;
  boxVersion?: string;
  version?: string;
  provider?: string;
  architecture?: string;
  defaultArchitecture?: boolean;
  registry?: string;
  token?: string;
  force?: boolean;
  release?: boolean;
}

interface ServeFlags extends StoreFlags {
  root?: string;
  port: number;
  host: string;
  publicUrl?: string;
  tokenFile?: string;
  config?: string;
  grace: number;
  maxUploadSize: number;
  idleTimeout: number;
  quiet?: boolean;
}

/** `64G`, `512M`, `1048576`: a size in bytes (K, M, G, T are powers of 1024). */
export function byteSize(flag: string): (value: string) => number {
  return (value: string) => {
    const m = /^(\d+)\s*([KMGT]?)(?:i?B)?$/i.exec(value.trim());
    const n = m ? Number(m[1]) * 1024 ** "_KMGT".indexOf((m[2] || "_").toUpperCase()) : NaN;
    if (!m || !Number.isSafeInteger(n) || n < 1) throw new InputError(`${flag}: expected a size like 64G, 512M or a number of bytes, got ${JSON.stringify(value)}`);
    return n;
  };
}


/** `90s`, `30m`, `2h`, `1d` or a number of seconds: a duration in milliseconds (0 allowed). */
export function duration(flag: string): (value: string) => number {
  return (value: string) => {
    const m = /^(\d+)\s*(s|m|h|d)?$/i.exec(value.trim());
    const ms = m ? Number(m[1]) * 1000 * { s: 1, m: 60, h: 3600, d: 86400 }[(m[2] ?? "s").toLowerCase() as "s"] : NaN;
    if (!m || !Number.isSafeInteger(ms)) throw new InputError(`${flag}: expected a duration like 30m, 2h, 90s or 0s, got ${JSON.stringify(value)}`);
    return ms;
  };
}
