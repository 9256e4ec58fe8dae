import type { Command } from "commander";
import { portNumber, positiveInt } from "./options.js";

const REGISTRY_HELP = "registry: a directory (written directly) or the http(s) URL of `homelab box serve` (default: $HOMELAB_REGISTRY, else ./registry)";
const TOKEN_HELP = "bearer token for a URL registry (default: $HOMELAB_REGISTRY_TOKEN)";

function defaultRegistry(): string {
  return process.env.HOMELAB_REGISTRY ?? "registry";
}

export function register(program: Command): void {
  const box = program.command("box").description("A self-hosted Vagrant box registry: publish, list, rm, serve.");

  box
    .command("publish")
    .description("Publish a .box into a registry (streamed and hashed in one read; exit 1 if that version+provider+architecture exists).")
    .argument("<file>", "the .box file (tar or tar.gz with metadata.json)")
    .requiredOption("--name <org/box>", "box name, e.g. homelab/alpine-3.24-k8snode-kubeadm")
    .requiredOption("--version <X.Y.Z>", "box version")
    .option("--provider <name>", "provider; checked against the box's metadata.json (default: taken from it)")
    .option("--architecture <arch>", "amd64, arm64 (or x86_64, aarch64); default: metadata.json's, else amd64")
    .option("--default-architecture", "make this the provider's default architecture (what Vagrant < 2.4 downloads)")
    .option("--registry <dir|url>", REGISTRY_HELP)
    .option("--token <token>", TOKEN_HELP)
    .option("-f, --force", "replace an existing version+provider+architecture")
    .action(async (file: string, opts: PublishFlags) => {
      const { publishBox } = await import("../box/publish.js");
      const { progressPrinter } = await import("./progress.js");
      const progress = progressPrinter(file);
      const result = await publishBox({
        file,
        name: opts.name,
        version: opts.version,
        registry: opts.registry ?? defaultRegistry(),
        ...(opts.provider === undefined ? {} : { provider: opts.provider }),
        ...(opts.architecture === undefined ? {} : { architecture: opts.architecture }),
        ...(opts.token === undefined ? {} : { token: opts.token }),
        ...(opts.force === undefined ? {} : { force: opts.force }),
        ...(opts.defaultArchitecture === undefined ? {} : { defaultArchitecture: true }),
        onProgress: progress.update,
      }).finally(progress.done);
      process.stdout.write(
        `${result.replaced ? "replaced" : "published"} ${result.box}@${result.version} ${result.provider}/${result.architecture} ` +
          `(${formatSize(result.size)}, sha256 ${result.checksum})\n`,
      );
    });

  box
    .command("list")
    .description("Show the boxes in a registry: versions, providers, architectures, sizes.")
    .argument("[org/box]", "only this box")
    .option("--registry <dir|url>", REGISTRY_HELP)
    .option("--token <token>", `${TOKEN_HELP} (for registries with protected reads)`)
    .option("--json", "print the catalogs as JSON")
    .action(async (name: string | undefined, opts: { registry?: string; token?: string; json?: boolean }) => {
      const { listRegistry } = await import("../box/publish.js");
      const { JobError } = await import("../errors.js");
      const catalogs = await listRegistry(opts.registry ?? defaultRegistry(), name, opts.token);
      if (name !== undefined && catalogs.length === 0) throw new JobError(`${name}: not in the registry`);
      if (opts.json) return void process.stdout.write(`${JSON.stringify(catalogs, null, 2)}\n`);
      const rows = [["BOX", "VERSION", "PROVIDER", "ARCH", "SIZE", "SHA256"]];
      for (const c of catalogs) {
        for (const v of [...c.versions].reverse()) {
          for (const p of v.providers) {
            rows.push([c.name, v.version, p.name, `${p.architecture}${p.default_architecture ? "*" : ""}`, formatSize(p.size), p.checksum.slice(0, 12)]);
          }
        }
      }
      if (rows.length === 1) return void process.stdout.write("no boxes\n");
      const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
      for (const r of rows) process.stdout.write(`${r.map((cell, i) => cell.padEnd(widths[i]!)).join("  ").trimEnd()}\n`);
    });

  box
    .command("rm")
    .description("Remove a version, or one provider (and architecture) of it, from a registry.")
    .argument("<org/box@version[/provider[/arch]]>", "what to remove")
    .option("--registry <dir|url>", REGISTRY_HELP)
    .option("--token <token>", TOKEN_HELP)
    .action(async (what: string, opts: { registry?: string; token?: string }) => {
      const { parseBoxSelector } = await import("../box/names.js");
      const { removeFromRegistry } = await import("../box/publish.js");
      const sel = parseBoxSelector(what);
      const removed = await removeFromRegistry(opts.registry ?? defaultRegistry(), sel, opts.token);
      const detail = removed ? ` (${removed.map((p) => `${p.name}/${p.architecture}`).join(", ")})` : "";
      process.stdout.write(`removed ${what}${detail}\n`);
    });

  box
    .command("serve")
    .description("Serve a registry directory over HTTP for `vagrant box add http://HOST:PORT/org/box`.")
    .requiredOption("--root <dir>", "registry directory")
    .option("--port <n>", "TCP port (0: any free port)", portNumber("--port"), 8080)
    .option("--host <addr>", "address to listen on (0.0.0.0 for the whole network)", "127.0.0.1")
    .option("--public-url <url>", "base URL written into catalogs (default: http://<Host header>)")
    .option("--config <file>", 'access config JSON: {"writeTokens": [...], "readTokens": [...]}')
    .option("--grace <seconds>", "on SIGTERM/SIGINT, how long in-flight downloads may run", positiveInt("--grace"), 60)
    .option("-q, --quiet", "no request log")
    .addHelpText(
      "after",
      `
Access (from --config, else the environment):
  writeTokens / HOMELAB_REGISTRY_WRITE_TOKENS  comma-separated bearer tokens allowed to PUT and DELETE
                                               (none: uploads are refused with 403)
  readTokens  / HOMELAB_REGISTRY_READ_TOKENS   when set, GET/HEAD need one of these (or a write token)
                                               as "Authorization: Bearer" or ?access_token=
                                               (Vagrant sends it with VAGRANT_SERVER_URL + VAGRANT_CLOUD_TOKEN)
  Tokens are at least 16 printable characters, e.g. \`openssl rand -hex 24\`.

Routes:
  GET|HEAD /org/box                                catalog (application/json)
  GET|HEAD /org/box/VERSION/PROVIDER/ARCH          the box (Range, ETag)
  PUT      /org/box/VERSION[/PROVIDER[/ARCH]]      upload (?force=1)
  DELETE   /org/box/VERSION[/PROVIDER[/ARCH]]      remove
  GET      /   (index of catalogs)    GET /healthz`,
    )
    .action(async (opts: ServeFlags) => {
      const { startRegistryServer } = await import("../box/server.js");
      const { loadAccessConfig } = await import("../box/tokens.js");
      const access = await loadAccessConfig(opts.config);
      const log = opts.quiet ? undefined : (line: string) => process.stderr.write(`${new Date().toISOString()} ${line}\n`);
      const server = await startRegistryServer({
        root: opts.root,
        port: opts.port,
        host: opts.host,
        ...access,
        ...(opts.publicUrl === undefined ? {} : { publicUrl: opts.publicUrl }),
        ...(log === undefined ? {} : { log }),
      });
      process.stdout.write(`serving ${opts.root} on ${server.url} (uploads ${access.writeTokens.length > 0 ? "need a token" : "disabled"}, reads ${access.readTokens.length > 0 ? "need a token" : "anonymous"})\n`);
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

interface PublishFlags {
  name: string;
  version: string;
  provider?: string;
  architecture?: string;
  defaultArchitecture?: boolean;
  registry?: string;
  token?: string;
  force?: boolean;
}

interface ServeFlags {
  root: string;
  port: number;
  host: string;
  publicUrl?: string;
  config?: string;
  grace: number;
  quiet?: boolean;
}

export function formatSize(bytes: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let v = bytes;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${v} B` : `${v.toFixed(1)} ${units[i]}`;
}
