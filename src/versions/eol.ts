/**
 * End of support of Alpine stable branches (the date the `main` repository stops getting
 * fixes). Source: https://alpinelinux.org/releases/ (checked 2026-11); each branch gets about
 * two years, ending on 1 May or 1 November. 3.24's date follows that rule (released May 2026).
 * Branches not listed are older than 3.18 (long unsupported) or newer than this table: a newer
 * branch is treated as supported.
 */
export const ALPINE_BRANCH_EOL: Readonly<Record<string, string>> = {
  "3.18": "2025-05-09",
  "3.19": "2025-11-01",
  "3.20": "2026-04-01",
  "3.21": "2026-11-01",
  "3.22": "2027-05-01",
  "3.23": "2027-11-01",
  "3.24": "2028-05-01",
};

const OLDEST_LISTED_MINOR = 18;

/** The end-of-support date when `branch` (e.g. "3.21") is past it on `today`, else undefined. */
export function alpineBranchEnded(branch: string, today: Date): string | undefined {
  const date = ALPINE_BRANCH_EOL[branch];
  const minor = Number(branch.split(".")[1]);
  if (date === undefined) return minor < OLDEST_LISTED_MINOR ? "before 2025" : undefined;
  return today.toISOString().slice(0, 10) >= date ? date : undefined;
}

/** Kubernetes supports the newest three minor releases (kubernetes.io/releases). */
export const KUBERNETES_SUPPORTED_MINORS = 3;
