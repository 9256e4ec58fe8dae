import { DEFAULTS } from "../config/defaults.js";
import { parseLatestReleases, latestReleasesUrl, type AlpineRelease } from "./alpine.js";
import { archiveIndexUrl, netinstFile, netinstSumsUrl, parseArchiveIndex, parseSha256Sums } from "./debian.js";
import { defaultCacheDir, ResponseCache } from "./cache.js";
import { CachedFetcher, type Fetched } from "./fetcher.js";
import { flannelReleaseUrl, parseGithubRelease, type GithubRelease } from "./flannel.js";
import { parseGithubReleases, releaseChecksum, releasesUrl, type RuntimeName } from "./github.js";
import { parseK3sChannels, type K3sChannels } from "./k3s.js";
import { kubeadmConstantsUrl, parsePauseVersion, parseStableTxt, stableTxtUrl } from "./kubernetes.js";

/** Where upstream lives and how patient to be. Every field has a default; env overrides it. */
export interface UpstreamOptions {
  /** Alpine mirror base (holds `v3.x/` and `latest-stable/`). Env HOMELAB_ALPINE_MIRROR; else the config's `alpine.mirror`. */
  alpineMirror?: string;
  /** Kubernetes release base holding stable.txt. Env HOMELAB_K8S_RELEASE_URL. */
  kubernetesReleaseUrl?: string;
  /** Kubernetes source base (raw files by tag) for kubeadm's constants.go. Env HOMELAB_K8S_SOURCE_URL. */
  kubernetesSourceUrl?: string;
  /** k3s channels JSON. Env HOMELAB_K3S_CHANNELS_URL. */
  k3sChannelsUrl?: string;
  /** Debian's cdimage base (holds `archive/`). Env HOMELAB_DEBIAN_CDIMAGE_URL. */
  debianCdimageUrl?: string;
  /** GitHub's API for flannel's releases (holds `latest` and `tags/<tag>`). Env HOMELAB_FLANNEL_RELEASES_URL. */
  flannelReleasesUrl?: string;
  /** GitHub's REST API (containerd's and runc's release lists). Env HOMELAB_GITHUB_API_URL. */
  githubApiUrl?: string;
  /** GitHub itself (release download files). Env HOMELAB_GITHUB_URL. */
  githubUrl?: string;
  /** Cache directory. Env HOMELAB_CACHE_DIR (cache root; answers go to `<root>/versions`). */
  cacheDir?: string;
  /** How long cached answers are trusted without asking. Default 6 hours. */
  ttlMs?: number;
  /** Deadline of each request. Default 5000 ms. */
  timeoutMs?: number;
  /** Ask upstream even when the cache is fresh (`--refresh`). */
  refresh?: boolean;
  /** Clock, for tests of the TTL. */
  now?: () => number;
  env?: NodeJS.ProcessEnv;
}

export const DEFAULT_URLS = {
  kubernetesRelease: "https://dl.k8s.io/release",
  kubernetesSource: "https://raw.githubusercontent.com/kubernetes/kubernetes",
  k3sChannels: "https://update.k3s.io/v1-release/channels",
  flannelReleases: "https://api.github.com/repos/flannel-io/flannel/releases",
  githubApi: "https://api.github.com",
  github: "https://github.com",
} as const;

export const DEFAULT_TTL_MS = 6 * 60 * 60 * 1000;
export const DEFAULT_TIMEOUT_MS = 5000;

/** The upstream sources, each answer cache-first. One instance per command run. */
export class Upstream {
  readonly urls: {
    alpineMirror: string;
    kubernetesRelease: string;
    kubernetesSource: string;
    k3sChannels: string;
    debianCdimage: string;
    flannelReleases: string;
    githubApi: string;
    github: string;
  };
  private readonly fetcher: CachedFetcher;

  constructor(configMirror: string | undefined, opts: UpstreamOptions = {}) {
    const env = opts.env ?? process.env;
    this.urls = {
      alpineMirror: opts.alpineMirror ?? (env.HOMELAB_ALPINE_MIRROR || configMirror || DEFAULTS.alpine.mirror),
      kubernetesRelease: opts.kubernetesReleaseUrl ?? (env.HOMELAB_K8S_RELEASE_URL || DEFAULT_URLS.kubernetesRelease),
      kubernetesSource: opts.kubernetesSourceUrl ?? (env.HOMELAB_K8S_SOURCE_URL || DEFAULT_URLS.kubernetesSource),
      k3sChannels: opts.k3sChannelsUrl ?? (env.HOMELAB_K3S_CHANNELS_URL || DEFAULT_URLS.k3sChannels),
      debianCdimage: opts.debianCdimageUrl ?? (env.HOMELAB_DEBIAN_CDIMAGE_URL || DEFAULTS.debian.netinst.cdimage),
      flannelReleases: opts.flannelReleasesUrl ?? (env.HOMELAB_FLANNEL_RELEASES_URL || DEFAULT_URLS.flannelReleases),
      githubApi: opts.githubApiUrl ?? (env.HOMELAB_GITHUB_API_URL || DEFAULT_URLS.githubApi),
      github: opts.githubUrl ?? (env.HOMELAB_GITHUB_URL || DEFAULT_URLS.github),
    };
    for (const [name, url] of Object.entries(this.urls)) {
      if (!/^https?:\/\//.test(url)) throw new TypeError(`${name}: expected an http(s) URL, got ${JSON.stringify(url)}`);
    }
    this.fetcher = new CachedFetcher({
      cache: new ResponseCache(opts.cacheDir ?? defaultCacheDir(env)),
      ttlMs: opts.ttlMs ?? DEFAULT_TTL_MS,
      timeoutMs: opts.timeoutMs ?? DEFAULT_TIMEOUT_MS,
      refresh: opts.refresh ?? false,
      now: opts.now ?? Date.now,
    });
  }

  /** Newest alpine-virt release of a branch ("3.24") or of `latest-stable`. */
  alpine(branch: string | "latest-stable", arch: string): Promise<Fetched<AlpineRelease>> {
    const url = latestReleasesUrl(this.urls.alpineMirror, branch, arch);
    return this.fetcher.get(url, (body) => parseLatestReleases(body, arch));
  }

  /** Newest Kubernetes release overall (minor undefined) or of a minor ("1.35"). */
  kubernetesStable(minor?: string): Promise<Fetched<string>> {
    return this.fetcher.get(stableTxtUrl(this.urls.kubernetesRelease, minor), parseStableTxt);
  }

  /** The pause image version kubeadm `version` expects (404 when the release does not exist). */
  kubeadmPauseVersion(version: string): Promise<Fetched<string>> {
    return this.fetcher.get(kubeadmConstantsUrl(this.urls.kubernetesSource, version), parsePauseVersion);
  }

  k3sChannels(): Promise<Fetched<K3sChannels>> {
    return this.fetcher.get(this.urls.k3sChannels, parseK3sChannels);
  }

  /** The Debian point releases cdimage's archive holds (`12.15.0`, ...). */
  debianReleases(): Promise<Fetched<string[]>> {
    return this.fetcher.get(archiveIndexUrl(this.urls.debianCdimage), parseArchiveIndex);
  }

  /** flannel's newest release (`latest`) or one tag's (404 when the tag has no release). */
  flannelRelease(tag: string | "latest"): Promise<Fetched<GithubRelease>> {
    return this.fetcher.get(flannelReleaseUrl(this.urls.flannelReleases, tag), parseGithubRelease);
  }

  /** The sha256 Debian publishes for a netinst ISO (404 when the release is not in the archive). */
  debianNetinstSha256(version: string, darch: string): Promise<Fetched<string>> {
    return this.fetcher.get(netinstSumsUrl(this.urls.debianCdimage, version, darch), (body) => parseSha256Sums(body, netinstFile(version, darch)));
  }

  /** The final releases of containerd or runc (X.Y.Z), from GitHub's release list. */
  runtimeReleases(name: RuntimeName): Promise<Fetched<string[]>> {
    return this.fetcher.get(releasesUrl(this.urls.githubApi, name), parseGithubReleases);
  }

  /** The sha256 a containerd or runc release publishes for its file of one arch (404: no such release). */
  runtimeSha256(name: RuntimeName, version: string, goarch: string): Promise<Fetched<string>> {
    const { url, file } = releaseChecksum(this.urls.github, name, version, goarch);
    return this.fetcher.get(url, (body) => parseSha256Sums(body, file));
  }
}
