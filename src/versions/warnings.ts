import { readFile } from "node:fs/promises";
import { join } from "node:path";
import type { Config } from "../config/schema.js";
import { writeFileAtomic } from "../fs/atomic-write.js";
import { defaultCacheDir } from "./cache.js";
import { alpineMirrorOf } from "../os/index.js";
import { checkVersions } from "./drift.js";
import { driftLines } from "./render.js";
import { Upstream, type UpstreamOptions } from "./upstream.js";

export interface DriftWarningOptions extends UpstreamOptions {
  /** Total time the check may take, whatever happens. Default 1500 ms. */
  budgetMs?: number;
  today?: Date;
}

/** How often, at most, "could not check" is said: offline is a state, not news on every run. */
export const UNREACHABLE_EVERY_MS = 24 * 60 * 60 * 1000;
/** In the versions cache directory: when "could not check" was last said. */
const UNREACHABLE_STAMP = "unreachable-warned.json";

interface Outcome {
  /** Pins that drifted (from answers, fresh or cached): always worth a line. */
  lines: string[];
  /** Why upstream could not be asked, one reason per pin (empty when every pin was checked). */
  unreachable: string[];
}

/**
 * Warnings for `homelab generate` and `homelab build`: one line per drifted pin, and when upstream
 * could not be asked (offline, slow), ONE line saying so, at most once a day (remembered in the
 * versions cache directory). Answers come from the cache while it is fresh, so with a fresh cache
 * nothing is asked and nothing is said about the network. Never throws and never holds a build
 * up: each request has a short deadline (default 1000 ms), and the whole check gives up after
 * `budgetMs`. HOMELAB_NO_VERSION_CHECK=1 turns it off (air-gapped builds, CI).
 */
export async function driftWarnings(config: Config, opts: DriftWarningOptions = {}): Promise<string[]> {
  const env = opts.env ?? process.env;
  if (env.HOMELAB_NO_VERSION_CHECK === "1" || env.HOMELAB_NO_VERSION_CHECK === "true") return [];
  const budgetMs = opts.budgetMs ?? 1500;
  let timer: NodeJS.Timeout | undefined;
  const overBudget = new Promise<Outcome>((resolve) => {
    timer = setTimeout(() => resolve({ lines: [], unreachable: [`the check took longer than ${budgetMs} ms`] }), budgetMs);
    timer.unref();
  });
  const check = (async (): Promise<Outcome> => {
    const upstream = new Upstream(alpineMirrorOf(config), { timeoutMs: Math.min(1000, budgetMs), ...opts });
    const report = await checkVersions(config, upstream, opts.today);
    const unchecked = report.pins.filter((p) => p.verdict === "unchecked");
    return {
      lines: driftLines({ ...report, pins: report.pins.filter((p) => p.verdict !== "unchecked") }),
      unreachable: unchecked.map((p) => `${p.pin}: ${(p.why ?? "no answer").replace(/^could not check: /, "")}`),
    };
  })().catch((err: unknown) => ({ lines: [], unreachable: [err instanceof Error ? err.message : String(err)] }));
  let outcome: Outcome;
  try {
    outcome = await Promise.race([check, overBudget]);
  } finally {
    clearTimeout(timer);
  }
  if (outcome.unreachable.length === 0) return outcome.lines;
  const cacheDir = opts.cacheDir ?? defaultCacheDir(env);
  const now = (opts.now ?? Date.now)();
  if (!(await dueForUnreachable(cacheDir, now))) return outcome.lines;
  return [
    ...outcome.lines,
    `could not check the pins against upstream: ${outcome.unreachable[0]}` +
      `${outcome.unreachable.length > 1 ? ` (and ${outcome.unreachable.length - 1} more)` : ""}; said at most once a day, \`homelab versions check\` tells more`,
  ];
}

/** True when "could not check" was not said in the last day; remembers that it is said now. */
async function dueForUnreachable(cacheDir: string, now: number): Promise<boolean> {
  const file = join(cacheDir, UNREACHABLE_STAMP);
  const last = await readFile(file, "utf8")
    .then((text) => Number((JSON.parse(text) as { at?: unknown }).at))
    .catch(() => Number.NaN);
  if (Number.isFinite(last) && now - last < UNREACHABLE_EVERY_MS && now >= last) return false;
  // Best effort: a read-only cache must not turn a warning into a failure (it is then said each run).
  await writeFileAtomic(file, `${JSON.stringify({ at: now })}\n`).catch(() => undefined);
  return true;
}
