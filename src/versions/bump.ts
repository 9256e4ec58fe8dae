import { PAUSE_IMAGE_BY_MINOR } from "../config/defaults.js";
import { parseConfig } from "../config/load.js";
import type { Config } from "../config/schema.js";
import { osFamily, type OsPin } from "../os/index.js";
import { JobError } from "../errors.js";
import type { Fetched } from "./fetcher.js";
import { formatAge } from "./drift.js";
import { UpstreamError } from "./http.js";
import type { Upstream } from "./upstream.js";
import { minorOf, parseVersion, type VersionKind } from "./version.js";
import { applyPinEdits, type PinEdit } from "./yaml-edit.js";
import { compareVersions } from "../semver.js";

export interface BumpOptions {
  /**
   * Accept an answer from the cache when upstream cannot be reached (an expired entry, however
   * old). Off by default: bump writes pins, and a pin from a month-old answer is a guess.
   */
  allowStale?: boolean;
}

/** `patch`: newest release of the pinned branch/minor. `minor`: newest stable release. */
export type BumpMode = "patch" | "minor";

export interface PinChange {
  pin: "alpine.version" | "k8s.version";
  from: string;
  to: string;
  edits: PinEdit[];
}

export interface BumpPlan {
  changes: PinChange[];
  /** Pins left alone on purpose, with the reason (e.g. no pause image known for a new minor). */
  skipped: string[];
}

export interface BumpResult extends BumpPlan {
  before: string;
  after: string;
}

/**
 * Decides the new pins. Never downgrades (k3s's stable channel can trail a pin). A k8s.version
 * left out of homelab.yaml follows homelab's default; bump writes it explicitly only when the
 * bumped version differs from that default, so the file then says what the image contains.
 * Alpine's ISO checksum is always written with a new Alpine version: the loader's table only
 * knows the releases homelab shipped with.
 */
export async function planBump(config: Config, upstream: Upstream, mode: BumpMode, opts: BumpOptions = {}): Promise<BumpPlan> {
  const plan: BumpPlan = { changes: [], skipped: [] };
  const need = needFrom(opts);
  // Only the Alpine pin is in homelab.yaml; the Debian ISO pin is homelab's own (versions check reports it).
  const pin = osFamily(config).upstreamPin;
  const tasks: Promise<void>[] = pin?.kind === "alpine" ? [planAlpine(pin, upstream, mode, plan, need)] : [];
  if (config.k8s) tasks.push(planKubernetes(config.k8s.distribution, config.k8s.version, upstream, mode, plan, need));
  await Promise.all(tasks);
  plan.changes.sort((a, b) => a.pin.localeCompare(b.pin));
  return plan;
}

/** Plans and applies to the config text; the caller writes `after` (or not, for --dry-run). */
export async function bumpConfigText(
  text: string,
  file: string,
  upstream: Upstream,
  mode: BumpMode,
  opts: BumpOptions = {},
): Promise<BumpResult> {
  const config = parseConfig(text, file);
  const plan = await planBump(config, upstream, mode, opts);
  const after = plan.changes.length === 0 ? text : applyPinEdits(text, plan.changes.flatMap((c) => c.edits));
  // The rewritten file must load: a bump never leaves an invalid homelab.yaml behind.
  if (after !== text) parseConfig(after, file);
  return { ...plan, before: text, after };
}

async function planAlpine(pin: Extract<OsPin, { kind: "alpine" }>, upstream: Upstream, mode: BumpMode, plan: BumpPlan, need: Need): Promise<void> {
  const { version, arch } = pin;
  const pinned = parseVersion("alpine", version)!;
  const release = await need(`alpine.version`, () => upstream.alpine(mode === "patch" ? minorOf(pinned) : "latest-stable", arch));
  if (compareVersions(parseVersion("alpine", release.version)!, pinned) <= 0) return;
  plan.changes.push({
    pin: "alpine.version",
    from: version,
    to: release.version,
    edits: [
      { section: "alpine", key: "version", value: release.version },
      { section: "alpine", key: "isoChecksum", value: `sha256:${release.sha256}`, after: "version" },
    ],
  });
}

async function planKubernetes(
  distribution: VersionKind,
  version: string,
  upstream: Upstream,
  mode: BumpMode,
  plan: BumpPlan,
  need: Need,
): Promise<void> {
  const pinned = parseVersion(distribution, version)!;
  const minor = minorOf(pinned);
  let target: string;
  if (distribution === "k3s") {
    const channels = await need("k8s.version", () => upstream.k3sChannels());
    const channel = mode === "patch" ? `v${minor}` : "stable";
    const found = channels.latest.get(channel);
    if (found === undefined) throw new JobError(`k8s.version: could not bump ${version}: the k3s channels list has no ${channel} channel`);
    target = found;
  } else {
    target = await need("k8s.version", () => upstream.kubernetesStable(mode === "patch" ? minor : undefined));
  }
  const next = parseVersion(distribution, target)!;
  if (compareVersions(next, pinned) <= 0) return;
  if (distribution === "kubeadm" && PAUSE_IMAGE_BY_MINOR[next.minor] === undefined) {
    plan.skipped.push(
      `k8s.version: not bumped to ${target}: this homelab has no pause image for Kubernetes ${minorOf(next)} (PAUSE_IMAGE_BY_MINOR); upgrade homelab first`,
    );
    return;
  }
  plan.changes.push({
    pin: "k8s.version",
    from: version,
    to: target,
    edits: [{ section: "k8s", key: "version", value: target, after: "distribution" }],
  });
}

type Need = <T>(pin: string, run: () => Promise<Fetched<T>>) => Promise<T>;

/**
 * A bump cannot guess: any source that fails stops it before anything is written, and so does an
 * answer that only the cache had (upstream down) unless the caller allowed that.
 */
function needFrom(opts: BumpOptions): Need {
  return async <T>(pin: string, run: () => Promise<Fetched<T>>): Promise<T> => {
    let fetched: Fetched<T>;
    try {
      fetched = await run();
    } catch (err) {
      const reason = err instanceof UpstreamError ? err.reason : err instanceof Error ? err.message : String(err);
      throw new JobError(`${pin}: could not check: ${reason} (nothing written)`, { cause: err });
    }
    const p = fetched.provenance;
    if (p.from === "stale cache" && !opts.allowStale) {
      throw new StaleAnswerError(
        `${pin}: could not check: ${p.reason}; the only answer is a cached one ${formatAge(p.ageMs)} old (nothing written)`,
      );
    }
    return fetched.value;
  };
}

/** Upstream was down and only an expired cache entry answered; the CLI says how to accept it. */
export class StaleAnswerError extends JobError {}
