import type { Command } from "commander";
import { InputError } from "../errors.js";
import { examples } from "./help.js";

const WORK_DIR_HELP = "homelab's state directory (default: .homelab beside the project's homelab.yaml, else ./.homelab)";

/** `--work-dir`, else the project's .homelab (found like the config), else ./.homelab. */
async function workDirFor(flag: string | undefined): Promise<string> {
  if (flag !== undefined) return flag;
  const { join, dirname, relative } = await import("node:path");
  const { findConfigFile } = await import("../config/source.js");
  const found = (await findConfigFile(process.cwd())).file;
  return found === undefined ? ".homelab" : relative(process.cwd(), join(dirname(found), ".homelab")) || ".";
}

export function register(program: Command): void {
  const builds = program
    .command("builds")
    .description("List the builds in .homelab/builds: hash, box, size, age, the config it came from.")
    .option("--work-dir <dir>", WORK_DIR_HELP)
    .option("--json", "print the list as JSON")
    .action(async (opts: { workDir?: string; json?: boolean }) => {
      const { listBuilds } = await import("../builder/inventory.js");
      const { formatAge, formatSize } = await import("./format.js");
      const workDir = await workDirFor(opts.workDir);
      const { builds: list, foreign } = await listBuilds(workDir);
      if (opts.json) {
        process.stdout.write(`${JSON.stringify({ workDir, builds: list, foreign }, null, 2)}\n`);
        return;
      }
      if (list.length === 0) process.stdout.write(`no builds in ${workDir}/builds\n`);
      else {
        const now = Date.now();
        const rows = [["HASH", "BOX", "VERSION", "STATE", "SIZE", "AGE", "CONFIG"]];
        for (const b of list) {
          rows.push([
            b.hash.slice(0, 12),
            b.record?.boxName ?? "-",
            b.record?.boxVersion ?? "-",
            b.state,
            formatSize(b.size),
            `${formatAge(now - b.time)} ago`,
            b.record?.config ?? "-",
          ]);
        }
        printTable(rows);
        const total = list.reduce((n, b) => n + b.size, 0);
        process.stdout.write(`${list.length} build${list.length === 1 ? "" : "s"}, ${formatSize(total)} in ${workDir}/builds (\`homelab clean\` prunes)\n`);
      }
      for (const f of foreign) process.stderr.write(`note: ${workDir}/builds/${f.name}: not listed (${f.reason})\n`);
    });
  examples(builds, ["homelab builds", "homelab builds --json | jq '.builds[].record.boxName'"]);

  const clean = program
    .command("clean")
    .description(
      "Remove old builds from .homelab/builds: failed and cancelled attempts, and finished builds " +
        "beyond the newest --keep. Only build directories homelab wrote are removed; a running build is left alone.",
    )
    .option("--keep <n>", "finished builds to keep, newest first", (v) => nonNegativeInt(v), 1)
    .option("--all", "remove every build (the same as --keep 0)")
    .option("-n, --dry-run", "say what would be removed, remove nothing")
    .option("--work-dir <dir>", WORK_DIR_HELP)
    .action(async (opts: { keep: number; all?: boolean; dryRun?: boolean; workDir?: string }) => {
      const { listBuilds, planPrune, removeBuilds } = await import("../builder/inventory.js");
      const { formatSize } = await import("./format.js");
      const { paint } = await import("./colour.js");
      const workDir = await workDirFor(opts.workDir);
      const { builds: list, foreign } = await listBuilds(workDir);
      const plan = planPrune(list, opts.all ? 0 : opts.keep);
      const label = (b: (typeof list)[number]) => `${b.hash.slice(0, 12)} ${b.record ? `${b.record.boxName} ${b.record.boxVersion}` : `(${b.state})`}`;
      const verb = opts.dryRun ? "would remove" : "removed";
      const left = opts.dryRun ? [] : await removeBuilds(plan.remove);
      const removed = plan.remove.filter((b) => !left.includes(b));
      for (const b of removed) process.stdout.write(`${verb} ${label(b)} (${formatSize(b.size)})\n`);
      for (const b of plan.keep) process.stdout.write(`kept ${label(b)}\n`);
      const warn = paint(process.stderr).yellow;
      for (const b of [...plan.busy, ...left]) process.stderr.write(warn(`warning: left ${label(b)}: a build is running in it (or was killed); remove it by hand if none is\n`));
      for (const f of foreign) process.stderr.write(`note: left ${workDir}/builds/${f.name} (${f.reason})\n`);
      const freed = removed.reduce((n, b) => n + b.size, 0);
      process.stdout.write(`${opts.dryRun ? "would free" : "freed"} ${formatSize(freed)}\n`);
    });
  examples(clean, ["homelab clean --dry-run", "homelab clean --keep 3", "homelab clean --all"]);
}

function nonNegativeInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || value.trim() === "") throw new InputError(`--keep: expected a whole number >= 0, got ${JSON.stringify(value)}`);
  return n;
}

function printTable(rows: string[][]): void {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  for (const r of rows) process.stdout.write(`${r.map((cell, i) => cell.padEnd(widths[i]!)).join("  ").trimEnd()}\n`);
}
