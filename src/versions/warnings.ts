import type { Config } from "../config/schema.js";
import { alpineMirrorOf } from "../os/index.js";
import { checkVersions } from "./drift.js";
import { driftLines } from "./render.js";
import { Upstream, type UpstreamOptions } from "./upstream.js";

export interface DriftWarningOptions extends UpstreamOptions {
  /** Total time the check may take, whatever happens. Default 1500 ms. */
  budgetMs?: number;
  today?: Date;
}

/**
 * One line per drifted pin, for `homelab generate` and `homelab build` to print as warnings.
 * Never throws and never holds a build up: answers come from the cache when fresh, each
 * request has a short deadline (default 1000 ms), and the whole check gives up after
 * `budgetMs`. When upstream cannot be asked the lines say "could not check: <reason>".
 * HOMELAB_NO_VERSION_CHECK=1 turns it off (air-gapped builds, CI).
 */
export async function driftWarnings(config: Config, opts: DriftWarningOptions = {}): Promise<string[]> {
  const env = opts.env ?? process.env;
  if (env.HOMELAB_NO_VERSION_CHECK === "1" || env.HOMELAB_NO_VERSION_CHECK === "true") return [];
  const budgetMs = opts.budgetMs ?? 1500;
  let timer: NodeJS.Timeout | undefined;
  const overBudget = new Promise<string[]>((resolve) => {
    timer = setTimeout(() => resolve([`could not check: versions check took longer than ${budgetMs} ms (upstream slow or unreachable)`]), budgetMs);
    timer.unref();
  });
  const check = (async () => {
    const upstream = new Upstream(alpineMirrorOf(config), { timeoutMs: Math.min(1000, budgetMs), ...opts });
    return driftLines(await checkVersions(config, upstream, opts.today));
  })().catch((err: unknown) => [`could not check: ${err instanceof Error ? err.message : String(err)}`]);
  try {
    return await Promise.race([check, overBudget]);
  } finally {
    clearTimeout(timer);
  }
}
