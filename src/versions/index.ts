/** The versions library: upstream sources, drift report, bump. */
export { ALPINE_BRANCH_EOL, KUBERNETES_SUPPORTED_MINORS } from "./eol.js";
export { checkVersions, needsAttention, VERDICTS, type DriftReport, type PinReport, type Verdict } from "./drift.js";
export { driftLines, renderReport } from "./render.js";
export { driftWarnings, type DriftWarningOptions } from "./warnings.js";
export { bumpConfigText, planBump, type BumpMode, type BumpPlan, type BumpResult, type PinChange } from "./bump.js";
export { applyPinEdits, type PinEdit } from "./yaml-edit.js";
export { unifiedDiff } from "./diff.js";
export { Upstream, DEFAULT_URLS, DEFAULT_TTL_MS, DEFAULT_TIMEOUT_MS, type UpstreamOptions } from "./upstream.js";
export { defaultCacheDir } from "./cache.js";
