/** `homelab box mirror`: copy boxes from a Vagrant catalog or an HCP Vagrant API host into a registry. */
export { mirrorBoxes, DEFAULT_API, DEFAULT_JOBS, type MirrorOptions, type MirrorSummary, type MirrorEvent, type MirrorItem, type ItemResult, type ItemState } from "./mirror.js";
export { parseSourceSpec, resolveSources, fromCatalog, type SourceSpec, type SourceFile, type SourceNote } from "./source.js";
export { SourceClient, SourceError } from "./source-http.js";
export { ChecksumMismatchError, downloadVerified } from "./download.js";
export { CHECKSUM_TYPES, parseSourceChecksum, type ChecksumType, type SourceChecksum } from "./checksum.js";
export { defaultWorkDir, MirrorWorkDir } from "./work-dir.js";
