import { FLANNEL, PAUSE_IMAGE_BY_MINOR } from "../config/defaults.js";
import { bakedCni } from "../contributors/k8s-node.js";
import { FLANNEL_MANIFEST_ASSET } from "./flannel.js";
import type { Config, ReleasePin } from "../config/schema.js";
import type { RuntimeName } from "./github.js";
import { osFamily, type OsPin } from "../os/index.js";
import { alpineBranchEnded, KUBERNETES_SUPPORTED_MINORS } from "./eol.js";
import type { Fetched, Provenance } from "./fetcher.js";
import { UpstreamError } from "./http.js";
import { PAUSE_REPOSITORY } from "./kubernetes.js";
import type { Upstream } from "./upstream.js";
import { minorOf, parseVersion, type PinVersion, type VersionKind } from "./version.js";
import { compareVersions } from "../semver.js";

/**
 * Worst first. `not upstream`: the pin names a release that does not exist (a typo, or a
 * version from the future). `unchecked`: upstream could not be asked.
 */
export const VERDICTS = ["not upstream", "unsupported", "unchecked", "minor behind", "patch behind", "current"] as const;
export type Verdict = (typeof VERDICTS)[number];

export interface PinReport {
  /** The homelab.yaml field. */
  pin: "alpine.version" | "k8s.version" | "debian.iso" | "k8s.cni" | "k8s.containerd.version" | "k8s.runc.version";
  kind: VersionKind;
  pinned: string;
  /** Newest release of the pinned branch/minor. */
  newestPatch?: string;
  /** Newest stable release overall. */
  newestStable?: string;
  verdict: Verdict;
  /** Why the verdict is what it is, when that is not obvious from the columns. */
  why?: string;
}

export interface DriftReport {
  pins: PinReport[];
  /** Pins that disagree with each other or with upstream (pause image, ISO checksum). */
  problems: string[];
  /** Things the reader should know that are not problems (an answer taken from a stale cache). */
  notes: string[];
}

/** True when `--strict` must fail: anything behind, unsupported, missing, inconsistent or unchecked. */
export function needsAttention(report: DriftReport): boolean {
  return report.problems.length > 0 || report.pins.some((p) => p.verdict !== "current");
}

export async function checkVersions(config: Config, upstream: Upstream, today: Date = new Date()): Promise<DriftReport> {
  const report: DriftReport = { pins: [], problems: [], notes: [] };
  // The OS pin only matters when the OS is installed from it (not with a bring-your-own image).
  const pin = osFamily(config).upstreamPin;
  const checks: Promise<void>[] = [];
  if (pin?.kind === "alpine") checks.push(checkAlpine(pin, upstream, today, report));
  if (pin?.kind === "debian-iso") checks.push(checkDebianIso(pin, upstream, report));
  if (config.k8s?.distribution === "kubeadm") checks.push(checkKubeadm(config.k8s.version, upstream, report));
  if (config.k8s?.distribution === "k3s") checks.push(checkK3s(config.k8s.version, upstream, report));
  if (bakedCni(config) === "flannel") checks.push(checkFlannel(upstream, report));
  const runtime = config.k8s?.runtime;
  if (runtime !== undefined) {
    const goarch = config.family === "debian" && config.debian.arch === "aarch64" ? "arm64" : "amd64";
    checks.push(checkRuntime("containerd", runtime.containerd, goarch, upstream, report));
    checks.push(checkRuntime("runc", runtime.runc, goarch, upstream, report));
  }
  await Promise.all(checks);
  report.pins.sort((a, b) => a.pin.localeCompare(b.pin));
  return report;
}

type Outcome<T> = { ok: true; value: T } | { ok: false; missing: boolean; reason: string };

/** Runs one fetch; remembers stale-cache use as a note; turns failures into data. */
async function attempt<T>(what: string, run: () => Promise<Fetched<T>>, report: DriftReport): Promise<Outcome<T>> {
  try {
    const { value, provenance } = await run();
    noteProvenance(what, provenance, report);
    return { ok: true, value };
  } catch (err) {
    if (err instanceof UpstreamError) return { ok: false, missing: err.status === 404, reason: err.reason };
    return { ok: false, missing: false, reason: err instanceof Error ? err.message : String(err) };
  }
}

function noteProvenance(what: string, provenance: Provenance, report: DriftReport): void {
  if (provenance.from === "stale cache") {
    report.notes.push(`${what}: upstream unreachable (${provenance.reason}); used a cached answer ${formatAge(provenance.ageMs)} old`);
  }
}

export function formatAge(ms: number): string {
  const minutes = Math.round(ms / 60_000);
  if (minutes < 60) return `${minutes} min`;
  const hours = Math.round(minutes / 60);
  return hours < 48 ? `${hours} h` : `${Math.round(hours / 24)} days`;
}

async function checkAlpine(pin: Extract<OsPin, { kind: "alpine" }>, upstream: Upstream, today: Date, report: DriftReport): Promise<void> {
  const { version: pinned, arch, isoChecksum } = pin;
  const v = parseVersion("alpine", pinned)!; // the schema guarantees the shape
  const branch = minorOf(v);
  const [ofBranch, stable] = await Promise.all([
    attempt(`Alpine ${branch}`, () => upstream.alpine(branch, arch), report),
    attempt("Alpine latest-stable", () => upstream.alpine("latest-stable", arch), report),
  ]);
  const row: PinReport = { pin: "alpine.version", kind: "alpine", pinned, verdict: "current" };
  if (ofBranch.ok) row.newestPatch = ofBranch.value.version;
  if (stable.ok) row.newestStable = stable.value.version;

  const ended = alpineBranchEnded(branch, today);
  if (!ofBranch.ok && ofBranch.missing && !stable.ok && stable.missing) {
    // Not even latest-stable: the mirror URL is wrong, not the pin.
    setVerdict(row, ended ? "unsupported" : "unchecked", `could not check: ${stable.reason} (is alpine.mirror an Alpine mirror?)`);
  } else if (!ofBranch.ok && ofBranch.missing) {
    setVerdict(row, "not upstream", `no Alpine ${branch} releases for ${arch} on the mirror (${ofBranch.reason})`);
  } else if (row.newestPatch !== undefined && compareVersions(v, parseVersion("alpine", row.newestPatch)!) > 0) {
    setVerdict(row, "not upstream", `the newest Alpine ${branch} release is ${row.newestPatch}`);
  } else if (ended !== undefined) {
    setVerdict(row, "unsupported", `Alpine ${branch} reached end of support on ${ended}`);
  } else if (!ofBranch.ok || !stable.ok) {
    setVerdict(row, "unchecked", `could not check: ${(!ofBranch.ok ? ofBranch : (stable as { reason: string })).reason}`);
  } else {
    setVerdict(row, versionGap(v, parseVersion("alpine", row.newestPatch!)!, parseVersion("alpine", row.newestStable!)!));
  }
  report.pins.push(row);

  // latest-releases.yaml only describes the newest point release, so the checksum can be
  // cross-checked exactly when the pin is that release.
  if (ofBranch.ok && ofBranch.value.version === pinned && isoChecksum !== `sha256:${ofBranch.value.sha256}`) {
    report.problems.push(
      `alpine.isoChecksum ${isoChecksum} is not the sha256 Alpine publishes for ${ofBranch.value.file} (sha256:${ofBranch.value.sha256})`,
    );
  }
}

/**
 * homelab's own Debian netinst pin (src/config/defaults.ts): is there a newer point release of
 * the same Debian, and is the pinned checksum the one Debian publishes? Not in homelab.yaml, so
 * `versions bump` cannot move it: a newer one needs a newer homelab.
 */
async function checkDebianIso(pin: Extract<OsPin, { kind: "debian-iso" }>, upstream: Upstream, report: DriftReport): Promise<void> {
  const v = parseVersion("debian", pin.version)!;
  const darch = pin.arch === "x86_64" ? "amd64" : "arm64";
  const [releases, sha] = await Promise.all([
    attempt("Debian cdimage archive", () => upstream.debianReleases(), report),
    attempt(`Debian ${pin.version} SHA256SUMS`, () => upstream.debianNetinstSha256(pin.version, darch), report),
  ]);
  const row: PinReport = { pin: "debian.iso", kind: "debian", pinned: pin.version, verdict: "current" };
  if (releases.ok) {
    const ofMajor = releases.value.map((r) => parseVersion("debian", r)!).filter((r) => r.major === v.major);
    const newest = ofMajor.reduce((a, b) => (compareVersions(a, b) >= 0 ? a : b), v);
    row.newestPatch = row.newestStable = `${newest.major}.${newest.minor}.${newest.patch}`;
  }
  if (!sha.ok && sha.missing) {
    setVerdict(row, "not upstream", `no Debian ${pin.version} ${darch} netinst in cdimage's archive (${sha.reason})`);
  } else if (!releases.ok || !sha.ok) {
    setVerdict(row, "unchecked", `could not check: ${(!releases.ok ? releases : (sha as { reason: string })).reason}`);
  } else if (row.newestPatch !== pin.version) {
    setVerdict(row, "patch behind", `Debian ${row.newestPatch} is out; homelab pins the netinst ISO itself (a newer homelab moves it)`);
  }
  report.pins.push(row);
  if (sha.ok && pin.checksum !== `sha256:${sha.value}`) {
    report.problems.push(`the Debian ${pin.version} netinst pin ${pin.checksum} is not the sha256 Debian publishes (sha256:${sha.value})`);
  }
}

/**
 * homelab's own flannel pin (src/config/defaults.ts, what `k8s.cni: flannel` bakes): is there a
 * newer release, and is the pinned manifest checksum the digest GitHub shows for the release's
 * kube-flannel.yml? Not in homelab.yaml, so `versions bump` cannot move it: the manifest's
 * checksum and images move with it, and a newer homelab moves them together.
 */
async function checkFlannel(upstream: Upstream, report: DriftReport): Promise<void> {
  const pinned = FLANNEL.version;
  const v = parseVersion("flannel", pinned)!;
  const [ofPin, latest] = await Promise.all([
    attempt(`flannel ${pinned}`, () => upstream.flannelRelease(pinned), report),
    attempt("flannel latest", () => upstream.flannelRelease("latest"), report),
  ]);
  const row: PinReport = { pin: "k8s.cni", kind: "flannel", pinned, verdict: "current" };
  if (latest.ok) row.newestStable = latest.value.tag;
  const newest = latest.ok ? parseVersion("flannel", latest.value.tag)! : undefined;
  if (latest.ok && newest!.major === v.major && newest!.minor === v.minor) row.newestPatch = latest.value.tag;
  if (!ofPin.ok && ofPin.missing && !latest.ok && latest.missing) {
    // Not even a latest release: the releases URL is wrong, not the pin.
    setVerdict(row, "unchecked", `could not check: ${latest.reason} (is the flannel releases URL right?)`);
  } else if (!ofPin.ok && ofPin.missing) {
    setVerdict(row, "not upstream", `flannel has no release ${pinned} (${ofPin.reason})`);
  } else if (!ofPin.ok || !latest.ok) {
    setVerdict(row, "unchecked", `could not check: ${(!ofPin.ok ? ofPin : (latest as { reason: string })).reason}`);
  } else if (compareVersions(v, newest!) < 0) {
    const gap = newest!.major === v.major && newest!.minor === v.minor ? "patch behind" : "minor behind";
    setVerdict(row, gap, `flannel ${latest.value.tag} is out; homelab pins flannel itself with its manifest checksum and images (a newer homelab moves them)`);
  }
  report.pins.push(row);
  if (ofPin.ok) {
    const published = ofPin.value.sha256.get(FLANNEL_MANIFEST_ASSET);
    if (published === undefined) {
      report.notes.push(`flannel ${pinned}: GitHub shows no sha256 for ${FLANNEL_MANIFEST_ASSET}, so the pinned checksum was not compared`);
    } else if (published !== FLANNEL.manifestSha256) {
      report.problems.push(
        `the flannel ${pinned} manifest pin sha256:${FLANNEL.manifestSha256} is not the digest GitHub shows for ${FLANNEL_MANIFEST_ASSET} (sha256:${published})`,
      );
    }
  }
}

async function checkKubeadm(pinned: string, upstream: Upstream, report: DriftReport): Promise<void> {
  const v = parseVersion("kubeadm", pinned)!;
  const minor = minorOf(v);
  const [ofMinor, stable, pause] = await Promise.all([
    attempt(`Kubernetes ${minor}`, () => upstream.kubernetesStable(minor), report),
    attempt("Kubernetes stable", () => upstream.kubernetesStable(), report),
    attempt(`kubeadm ${pinned} constants`, () => upstream.kubeadmPauseVersion(pinned), report),
  ]);
  const row: PinReport = { pin: "k8s.version", kind: "kubeadm", pinned, verdict: "current" };
  if (ofMinor.ok) row.newestPatch = ofMinor.value;
  if (stable.ok) row.newestStable = stable.value;
  judgeKubernetes(row, v, ofMinor, stable, !pause.ok && pause.missing ? `Kubernetes has no release tag ${pinned}` : undefined);
  report.pins.push(row);

  // The image pins PAUSE_IMAGE_BY_MINOR's entry; it must be what this kubeadm expects.
  const pinnedPause = PAUSE_IMAGE_BY_MINOR[v.minor];
  if (pinnedPause === undefined) {
    report.problems.push(`k8s.version ${pinned}: homelab has no pause image for Kubernetes ${minor} (PAUSE_IMAGE_BY_MINOR); it cannot build this version`);
  } else if (pause.ok && pinnedPause !== `${PAUSE_REPOSITORY}:${pause.value}`) {
    report.problems.push(
      `pause image: homelab pins ${pinnedPause} for Kubernetes ${minor}, but kubeadm ${pinned} expects ${PAUSE_REPOSITORY}:${pause.value}`,
    );
  } else if (!pause.ok && !pause.missing) {
    report.notes.push(`pause image for kubeadm ${pinned}: could not check: ${pause.reason}`);
  }
}

async function checkK3s(pinned: string, upstream: Upstream, report: DriftReport): Promise<void> {
  const v = parseVersion("k3s", pinned)!;
  const minor = minorOf(v);
  const channels = await attempt("k3s channels", () => upstream.k3sChannels(), report);
  const row: PinReport = { pin: "k8s.version", kind: "k3s", pinned, verdict: "current" };
  if (!channels.ok) {
    // Without the channel list nothing is known, not even a 404's meaning.
    const unknown: Outcome<string> = { ...channels, missing: false };
    judgeKubernetes(row, v, unknown, unknown, undefined);
    report.pins.push(row);
    return;
  }
  const latest = channels.value.latest;
  const patch = latest.get(`v${minor}`);
  if (patch !== undefined) row.newestPatch = patch;
  row.newestStable = latest.get("stable")!;
  // k3s's `stable` channel trails the newest minor; support is counted from the newest minor.
  const newestMinor = Math.max(v.minor, ...[...latest.keys()].map((id) => Number(/^v1\.(\d+)$/.exec(id)?.[1] ?? -1)));
  const ofMinor: Outcome<string> =
    patch === undefined ? { ok: false, missing: true, reason: `no k3s channel v${minor}` } : { ok: true, value: patch };
  judgeKubernetes(row, v, ofMinor, { ok: true, value: row.newestStable }, undefined, `1.${newestMinor}`);
  report.pins.push(row);
}

/**
 * A containerd or runc pin (Debian kubeadm nodes): newer patch or minor releases on GitHub, and
 * the pinned sha256 against the one the release publishes. Whether a newer containerd minor suits
 * the Kubernetes minor is the config loader's business (containerd's support table).
 */
async function checkRuntime(name: RuntimeName, pin: ReleasePin, goarch: string, upstream: Upstream, report: DriftReport): Promise<void> {
  const v = parseVersion("release", pin.version)!;
  const [releases, sha] = await Promise.all([
    attempt(`${name} releases`, () => upstream.runtimeReleases(name), report),
    attempt(`${name} ${pin.version} checksums`, () => upstream.runtimeSha256(name, pin.version, goarch), report),
  ]);
  const row: PinReport = { pin: `k8s.${name}.version`, kind: "release", pinned: pin.version, verdict: "current" };
  if (releases.ok) {
    const all = releases.value.map((r) => parseVersion("release", r)!).filter((r) => r !== undefined);
    const newest = (list: PinVersion[]) => list.reduce((a, b) => (compareVersions(a, b) >= 0 ? a : b));
    const sameLine = all.filter((r) => r.major === v.major && r.minor === v.minor);
    if (sameLine.length > 0) row.newestPatch = text(newest(sameLine));
    if (all.length > 0) row.newestStable = text(newest(all));
  }
  if (!releases.ok && !sha.ok && releases.missing) {
    setVerdict(row, "unchecked", `could not check: ${releases.reason} (is the GitHub API URL right?)`);
  } else if (releases.ok && !releases.value.includes(pin.version)) {
    setVerdict(row, "not upstream", `${name} has no final release ${pin.version}`);
  } else if (!sha.ok && sha.missing) {
    setVerdict(row, "not upstream", `no checksum file for ${name} ${pin.version} (${sha.reason})`);
  } else if (!releases.ok || !sha.ok) {
    setVerdict(row, "unchecked", `could not check: ${(!releases.ok ? releases : (sha as { reason: string })).reason}`);
  } else {
    setVerdict(row, versionGap(v, parseVersion("release", row.newestPatch!)!, parseVersion("release", row.newestStable!)!));
  }
  report.pins.push(row);
  if (sha.ok && sha.value !== pin.sha256) {
    report.problems.push(`k8s.${name}: the pinned sha256 ${pin.sha256} is not the one ${name} ${pin.version} publishes for ${goarch} (${sha.value})`);
  }
}

const text = (v: PinVersion) => `${v.major}.${v.minor}.${v.patch}`;

/** Shared by kubeadm and k3s: same support policy, same verdict order. */
function judgeKubernetes(
  row: PinReport,
  v: PinVersion,
  ofMinor: Outcome<string>,
  stable: Outcome<string>,
  missingTag: string | undefined,
  newestMinorOverride?: string,
): void {
  const kind = row.kind;
  const minor = minorOf(v);
  const newestMinor = newestMinorOverride ?? (row.newestStable === undefined ? undefined : minorOf(parseVersion(kind, row.newestStable)!));
  if (!ofMinor.ok && ofMinor.missing && !stable.ok && stable.missing) {
    setVerdict(row, "unchecked", `could not check: ${stable.reason} (is the release URL right?)`);
  } else if (!ofMinor.ok && ofMinor.missing) {
    setVerdict(row, "not upstream", `no Kubernetes ${minor} release upstream (${ofMinor.reason})`);
  } else if (row.newestPatch !== undefined && compareVersions(v, parseVersion(kind, row.newestPatch)!) > 0) {
    setVerdict(row, "not upstream", `the newest ${minor} release is ${row.newestPatch}`);
  } else if (missingTag !== undefined) {
    setVerdict(row, "not upstream", missingTag);
  } else if (newestMinor !== undefined && Number(newestMinor.split(".")[1]) - v.minor >= KUBERNETES_SUPPORTED_MINORS) {
    setVerdict(row, "unsupported", `Kubernetes supports only the newest ${KUBERNETES_SUPPORTED_MINORS} minors (newest is ${newestMinor})`);
  } else if (!ofMinor.ok || !stable.ok) {
    setVerdict(row, "unchecked", `could not check: ${(!ofMinor.ok ? ofMinor : (stable as { reason: string })).reason}`);
  } else {
    setVerdict(row, versionGap(v, parseVersion(kind, row.newestPatch!)!, parseVersion(kind, row.newestStable!)!));
  }
}

function versionGap(pinned: PinVersion, newestPatch: PinVersion, newestStable: PinVersion): Verdict {
  // A pin newer than `stable` (k3s's stable channel trails) is not behind.
  if (pinned.minor < newestStable.minor) return "minor behind";
  if (compareVersions(pinned, newestPatch) < 0) return "patch behind";
  return "current";
}

function setVerdict(row: PinReport, verdict: Verdict, why?: string): void {
  row.verdict = verdict;
  if (why === undefined) delete row.why;
  else row.why = why;
}
