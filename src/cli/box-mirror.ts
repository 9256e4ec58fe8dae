import type { Command } from "commander";
import { InputError } from "../errors.js";
import { examples } from "./help.js";
import { positiveInt } from "./options.js";

interface MirrorFlags {
  to?: string;
  registry?: string;
  token?: string;
  api?: string;
  sourceToken?: string;
  jobs: number;
  dryRun?: boolean;
  json?: boolean;
  force?: boolean;
  workDir?: string;
}

/** `homelab box mirror SOURCE...`: registered under `homelab box` by box.ts. */
export function registerMirror(box: Command): void {
  const mirror = box
    .command("mirror")
    .summary("Copy boxes from a Vagrant catalog or an HCP Vagrant org into a registry")
    .description(
      "Copy every released version, provider and architecture of boxes into a registry: from a Vagrant catalog URL, " +
        "org/box names or whole organisations on an HCP Vagrant (Vagrant Cloud) API host. Files are copied in parallel, " +
        "checked against the source's checksum (md5, sha1, sha256, sha384, sha512), and published with the registry's own URLs; " +
        "a file already there with the same checksum is skipped, and a killed run resumes its partial downloads. Exit 1 if any file failed.",
    )
    .argument("<source...>", "a catalog URL (http[s]://…), org/box, or org (names are read from --api)")
    .option("--to <dir>", "registry directory to write into (default: $HOMELAB_REGISTRY, else ./registry)")
    .option("--registry <dir|url>", "a registry directory, or the URL of `homelab box serve` (published with its PUT API)")
    .option("--token <token>", "write token for a URL registry (default: $HOMELAB_REGISTRY_TOKEN)")
    .option("--api <url>", "HCP Vagrant API host for org/box and org sources (default: $HOMELAB_MIRROR_API, else https://vagrantcloud.com)")
    .option("--source-token <token>", "bearer token for private boxes at the source, sent to its API host only (default: $VAGRANT_CLOUD_TOKEN)")
    .option("-j, --jobs <n>", "files copied at once", positiveInt("--jobs"), 4)
    .option("--dry-run", "list what would be copied; download and write nothing")
    .option("--force", "replace files the registry holds with other bytes than the source's")
    .option("--work-dir <dir>", "partial downloads, kept for resuming (default: $HOMELAB_CACHE_DIR/mirror, else ~/.cache/homelab/mirror)")
    .option("--json", "one JSON object per event, then the summary")
    .action(async (sources: string[], opts: MirrorFlags) => {
      const { mirrorBoxes, DEFAULT_API } = await import("../mirror/mirror.js");
      const { mirrorView, summaryText } = await import("./mirror-progress.js");
      const { progressMode } = await import("./build-progress.js");
      const { paint } = await import("./colour.js");
      const { JobError, CancelledError } = await import("../errors.js");
      if (opts.to !== undefined && opts.registry !== undefined) throw new InputError("--to and --registry: give one (--to is a directory, --registry a directory or URL)");
      if (opts.to !== undefined && /^https?:\/\//i.test(opts.to)) throw new InputError("--to: expected a directory; for a `homelab box serve` URL use --registry URL --token TOKEN");
      const registry = opts.to ?? opts.registry ?? process.env.HOMELAB_REGISTRY ?? "registry";
      const view = mirrorView(progressMode(opts, process.stdout), process.stdout);
      const abort = new AbortController();
      const onSignal = (): void => abort.abort();
      process.once("SIGINT", onSignal);
      process.once("SIGTERM", onSignal);
      let summary;
      try {
        summary = await mirrorBoxes({
          sources,
          registry,
          api: opts.api ?? process.env.HOMELAB_MIRROR_API ?? DEFAULT_API,
          jobs: opts.jobs,
          ...(opts.token === undefined ? {} : { token: opts.token }),
          ...((opts.sourceToken ?? process.env.VAGRANT_CLOUD_TOKEN) ? { sourceToken: (opts.sourceToken ?? process.env.VAGRANT_CLOUD_TOKEN)! } : {}),
          ...(opts.dryRun ? { dryRun: true } : {}),
          ...(opts.force ? { force: true } : {}),
          ...(opts.workDir === undefined ? {} : { workDir: opts.workDir }),
          ...(process.env.HOMELAB_MIRROR_RETRY_DELAY_MS ? { retryDelayMs: Number(process.env.HOMELAB_MIRROR_RETRY_DELAY_MS) } : {}),
          onEvent: (e) => view.event(e),
          signal: abort.signal,
        });
      } catch (err) {
        if (err instanceof CancelledError) throw err;
        if (abort.signal.aborted) throw new CancelledError("mirror cancelled; partial downloads are kept for the next run");
        throw err;
      } finally {
        view.close();
        process.off("SIGINT", onSignal);
        process.off("SIGTERM", onSignal);
      }
      if (opts.json) process.stdout.write(`${JSON.stringify({ kind: "summary", ...summary, results: undefined })}\n`);
      else process.stdout.write(summaryText(summary, paint(process.stdout)));
      if (summary.failed.count > 0) {
        const files = summary.failed.count - summary.sourceFailures.length;
        const sources = summary.sourceFailures.length > 0 ? `${summary.sourceFailures.length} source(s) could not be read, ` : "";
        throw new JobError(`${sources}${files} file(s) ${summary.dryRun ? "cannot be copied" : "failed"}; the rest ${summary.dryRun ? "would be" : "were"} copied or present`);
      }
    });
  examples(mirror, [
    "homelab box mirror https://boxes.example.org/acme/node.json --to /srv/boxes",
    "homelab box mirror generic/alpine319 bento/debian-12 --to /srv/boxes --jobs 8",
    "homelab box mirror bento --dry-run --to /srv/boxes   # a whole organisation, dry run",
    "homelab box mirror acme --api https://old.example.org --registry http://reg:8080 --token $TOKEN",
  ]);
}
