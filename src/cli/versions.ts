import type { Command } from "commander";
import { InputError, JobError } from "../errors.js";
import { DEFAULT_CONFIG_FILE, positiveInt } from "./options.js";

interface UpstreamFlags {
  config?: string;
  refresh?: boolean;
  timeout?: number;
}

export function register(program: Command): void {
  const versions = program
    .command("versions")
    .description("Keep the pinned Alpine and Kubernetes versions in homelab.yaml fresh.");

  versions
    .command("check")
    .description("Compare each pin with upstream: newest patch, newest stable, verdict.")
    .option("-c, --config <file>", `config file (default: ./${DEFAULT_CONFIG_FILE}, else the embedded default)`)
    .option("--strict", "exit 1 when any pin is behind, unsupported, inconsistent or could not be checked")
    .option("--json", "print the report as JSON")
    .option("--refresh", "ask upstream even when the cache is fresh")
    .option("--timeout <ms>", "deadline of each upstream request", positiveInt("--timeout"))
    .action(async (opts: UpstreamFlags & { strict?: boolean; json?: boolean }) => {
      const { resolveConfig } = await import("../config/source.js");
      const { checkVersions, needsAttention } = await import("../versions/drift.js");
      const { renderReport } = await import("../versions/render.js");
      const { config, origin } = await resolveConfig(opts.config, DEFAULT_CONFIG_FILE);
      const report = await checkVersions(config, await upstreamFor(config.alpine.mirror, opts));
      const attention = needsAttention(report);
      if (opts.json) {
        process.stdout.write(`${JSON.stringify({ config: origin, ...report, needsAttention: attention }, null, 2)}\n`);
      } else {
        process.stdout.write(renderReport(report));
      }
      if (opts.strict && attention) process.exitCode = 1;
    });

  versions
    .command("bump")
    .description("Rewrite the pins in homelab.yaml to newer upstream releases, keeping comments and layout.")
    .option("-c, --config <file>", "config file", DEFAULT_CONFIG_FILE)
    .option("--patch", "newest release of the pinned branch/minor (the default)")
    .option("--minor", "newest stable release")
    .option("--dry-run", "print the diff, write nothing")
    .option("--refresh", "ask upstream even when the cache is fresh")
    .option("--timeout <ms>", "deadline of each upstream request", positiveInt("--timeout"))
    .option("--allow-stale", "when upstream cannot be reached, accept an expired cached answer (however old)")
    .action(async (opts: UpstreamFlags & { config: string; patch?: boolean; minor?: boolean; dryRun?: boolean; allowStale?: boolean }) => {
      if (opts.patch && opts.minor) throw new InputError("--patch and --minor: choose one");
      const { parseConfig, readConfigText } = await import("../config/load.js");
      const { bumpConfigText, StaleAnswerError } = await import("../versions/bump.js");
      const { unifiedDiff } = await import("../versions/diff.js");
      const { writeFileAtomic } = await import("../fs/atomic-write.js");
      // Bounded, regular files only: the same reader as every other command's config.
      const text = await readConfigText(opts.config);
      const mirror = parseConfig(text, opts.config).alpine.mirror;
      const result = await bumpConfigText(text, opts.config, await upstreamFor(mirror, opts), opts.minor ? "minor" : "patch", {
        allowStale: opts.allowStale === true,
      }).catch((err: unknown) => {
        if (err instanceof StaleAnswerError) throw new JobError(err.message, { details: ["retry when upstream answers, or pass --allow-stale to use the cached answer"] });
        throw err;
      });
      for (const line of result.skipped) process.stderr.write(`homelab: warning: ${line}\n`);
      if (result.changes.length === 0) {
        process.stdout.write(`${opts.config}: every pin is already the newest ${opts.minor ? "stable" : "patch"} release\n`);
        return;
      }
      process.stdout.write(unifiedDiff(result.before, result.after, opts.config, opts.config));
      for (const c of result.changes) process.stdout.write(`${c.pin}: ${c.from} -> ${c.to}\n`);
      if (opts.dryRun) {
        process.stdout.write("dry run: nothing written\n");
        return;
      }
      await writeFileAtomic(opts.config, result.after);
      process.stdout.write(`wrote ${opts.config}\n`);
    });
}

async function upstreamFor(mirror: string, opts: UpstreamFlags) {
  const { Upstream } = await import("../versions/upstream.js");
  try {
    return new Upstream(mirror, { refresh: opts.refresh ?? false, ...(opts.timeout === undefined ? {} : { timeoutMs: opts.timeout }) });
  } catch (err) {
    throw new InputError(`upstream URL from the environment: ${err instanceof Error ? err.message : String(err)}`);
  }
}
