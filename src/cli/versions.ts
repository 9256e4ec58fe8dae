import type { Command } from "commander";
import { InputError, JobError } from "../errors.js";
import { examples } from "./help.js";
import { CONFIG_HELP, DEFAULT_HELP, positiveInt } from "./options.js";

interface UpstreamFlags {
  config?: string;
  default?: boolean;
  refresh?: boolean;
  timeout?: number;
}

export function register(program: Command): void {
  const versions = program
    .command("versions")
    .description("Keep the pinned Alpine and Kubernetes versions in homelab.yaml fresh.");
  examples(versions, ["homelab versions check", "homelab versions bump --dry-run"]);

  const check = versions
    .command("check")
    .description("Compare each pin with upstream: newest patch, newest stable, verdict.")
    .option("-c, --config <file>", CONFIG_HELP)
    .option("--default", DEFAULT_HELP)
    .option("--strict", "exit 1 when any pin is behind, unsupported, inconsistent or could not be checked")
    .option("--json", "print the report as JSON")
    .option("--refresh", "ask upstream even when the cache is fresh")
    .option("--timeout <ms>", "deadline of each upstream request", positiveInt("--timeout"))
    .action(async (opts: UpstreamFlags & { strict?: boolean; json?: boolean }) => {
      const { projectConfig } = await import("./options.js");
      const { checkVersions, needsAttention } = await import("../versions/drift.js");
      const { renderReport } = await import("../versions/render.js");
      const { config, origin } = await projectConfig(opts);
      const { alpineMirrorOf } = await import("../os/index.js");
      const report = await checkVersions(config, await upstreamFor(alpineMirrorOf(config), opts));
      const attention = needsAttention(report);
      if (opts.json) {
        process.stdout.write(`${JSON.stringify({ config: origin, ...report, needsAttention: attention }, null, 2)}\n`);
      } else {
        process.stdout.write(renderReport(report));
      }
      if (opts.strict && attention) process.exitCode = 1;
    });

  examples(check, ["homelab versions check", "homelab versions check --strict --json   # in CI: exit 1 when a pin is behind"]);

  const bump = versions
    .command("bump")
    .description("Rewrite the pins in homelab.yaml to newer upstream releases, keeping comments and layout.")
    .option("-c, --config <file>", CONFIG_HELP)
    .option("--patch", "newest release of the pinned branch/minor (the default)")
    .option("--minor", "newest stable release")
    .option("--dry-run", "print the diff, write nothing")
    .option("--refresh", "ask upstream even when the cache is fresh")
    .option("--timeout <ms>", "deadline of each upstream request", positiveInt("--timeout"))
    .option("--allow-stale", "when upstream cannot be reached, accept an expired cached answer (however old)")
    .action(async (opts: UpstreamFlags & { patch?: boolean; minor?: boolean; dryRun?: boolean; allowStale?: boolean }) => {
      if (opts.patch && opts.minor) throw new InputError("--patch and --minor: choose one");
      const { parseConfig, readConfigText } = await import("../config/load.js");
      const { bumpConfigText, StaleAnswerError } = await import("../versions/bump.js");
      const { unifiedDiff } = await import("../versions/diff.js");
      const { writeFileAtomic } = await import("../fs/atomic-write.js");
      const { configFileToEdit } = await import("./options.js");
      const file = await configFileToEdit(opts.config);
      // Bounded, regular files only: the same reader as every other command's config.
      const text = await readConfigText(file);
      const { alpineMirrorOf } = await import("../os/index.js");
      const mirror = alpineMirrorOf(parseConfig(text, file));
      const result = await bumpConfigText(text, file, await upstreamFor(mirror, opts), opts.minor ? "minor" : "patch", {
        allowStale: opts.allowStale === true,
      }).catch((err: unknown) => {
        if (err instanceof StaleAnswerError) throw new JobError(err.message, { details: ["retry when upstream answers, or pass --allow-stale to use the cached answer"] });
        throw err;
      });
      for (const line of result.skipped) process.stderr.write(`homelab: warning: ${line}\n`);
      if (result.changes.length === 0) {
        process.stdout.write(`${file}: every pin is already the newest ${opts.minor ? "stable" : "patch"} release\n`);
        return;
      }
      process.stdout.write(unifiedDiff(result.before, result.after, file, file));
      for (const c of result.changes) process.stdout.write(`${c.pin}: ${c.from} -> ${c.to}\n`);
      if (opts.dryRun) {
        process.stdout.write("dry run: nothing written\n");
        return;
      }
      await writeFileAtomic(file, result.after);
      process.stdout.write(`wrote ${file}\n`);
    });
  examples(bump, ["homelab versions bump --dry-run", "homelab versions bump", "homelab versions bump --minor"]);
}

async function upstreamFor(mirror: string | undefined, opts: UpstreamFlags) {
  const { Upstream } = await import("../versions/upstream.js");
  try {
    return new Upstream(mirror, { refresh: opts.refresh ?? false, ...(opts.timeout === undefined ? {} : { timeoutMs: opts.timeout }) });
  } catch (err) {
    throw new InputError(`upstream URL from the environment: ${err instanceof Error ? err.message : String(err)}`);
  }
}
