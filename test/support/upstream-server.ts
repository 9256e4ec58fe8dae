import { readFileSync } from "node:fs";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";

const FIXTURES = join(import.meta.dirname, "..", "fixtures", "versions");

/** How one path misbehaves. */
export interface Fault {
  status?: number;
  body?: string;
  /** Wait this long before sending headers. */
  delayMs?: number;
  /** Send headers and part of the body, then go silent. */
  stallBody?: boolean;
}

/** Pause version kubeadm expects, per release tag that "exists" on the fake GitHub. */
export const KUBEADM_TAGS: Record<string, string> = {
  "v1.35.1": "3.10.1",
  "v1.34.2": "3.10.1",
  "v1.34.4": "3.10.1",
  "v1.33.8": "3.10",
  "v1.31.4": "3.10",
  "v1.31.14": "3.10",
};

/**
 * A stand-in for dl-cdn.alpinelinux.org, dl.k8s.io, raw.githubusercontent.com, update.k3s.io,
 * cdimage.debian.org, api.github.com (flannel's releases; containerd's and runc's release lists) and github.com
 * (release downloads) on 127.0.0.1, serving the recorded formats in test/fixtures/versions, with
 * faults per path (slow, stalled, 404, garbage) and a log of the paths asked.
 */
export class UpstreamServer {
  readonly requests: string[] = [];
  readonly faults = new Map<string, Fault>();
  readonly tags: Record<string, string> = { ...KUBEADM_TAGS };
  private readonly server = createServer((req, res) => this.handle(req, res));
  private port = 0;

  static async start(): Promise<UpstreamServer> {
    const s = new UpstreamServer();
    await new Promise<void>((resolve) => s.server.listen(0, "127.0.0.1", resolve));
    s.port = (s.server.address() as AddressInfo).port;
    return s;
  }

  get base(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** The URL options/env an Upstream needs to talk to this server. */
  get urls() {
    return {
      alpineMirror: `${this.base}/alpine`,
      kubernetesReleaseUrl: `${this.base}/k8s/release`,
      kubernetesSourceUrl: `${this.base}/k8s/source`,
      k3sChannelsUrl: `${this.base}/k3s/v1-release/channels`,
      debianCdimageUrl: `${this.base}/debian-cd`,
      flannelReleasesUrl: `${this.base}/github/flannel/releases`,
      githubApiUrl: `${this.base}/github-api`,
      githubUrl: `${this.base}/github`,
    };
  }

  get env(): Record<string, string> {
    const u = this.urls;
    return {
      HOMELAB_ALPINE_MIRROR: u.alpineMirror,
      HOMELAB_K8S_RELEASE_URL: u.kubernetesReleaseUrl,
      HOMELAB_K8S_SOURCE_URL: u.kubernetesSourceUrl,
      HOMELAB_K3S_CHANNELS_URL: u.k3sChannelsUrl,
      HOMELAB_DEBIAN_CDIMAGE_URL: u.debianCdimageUrl,
      HOMELAB_FLANNEL_RELEASES_URL: u.flannelReleasesUrl,
      HOMELAB_GITHUB_API_URL: u.githubApiUrl,
      HOMELAB_GITHUB_URL: u.githubUrl,
    };
  }

  /** Serves every path as the given fault (e.g. the whole internet is slow). */
  allPaths: Fault | undefined;

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const path = decodeURIComponent(new URL(req.url ?? "/", this.base).pathname);
    this.requests.push(path);
    const fault = this.faults.get(path) ?? this.allPaths;
    const send = () => {
      if (fault?.status !== undefined || fault?.body !== undefined) return this.reply(res, fault.status ?? 200, fault.body ?? "");
      if (fault?.stallBody) {
        res.writeHead(200, { "content-type": "text/plain" });
        res.write("v1.");
        return; // never ends
      }
      const answer = this.lookup(path);
      if (answer === undefined) return this.reply(res, 404, "404 page not found\n");
      this.reply(res, 200, answer);
    };
    if (fault?.delayMs) setTimeout(send, fault.delayMs).unref();
    else send();
  }

  private reply(res: ServerResponse, status: number, body: string): void {
    res.writeHead(status, { "content-type": "text/plain; charset=utf-8", "content-length": Buffer.byteLength(body) });
    res.end(body);
  }

  private lookup(path: string): string | undefined {
    let m = /^\/k8s\/source\/(v[^/]+)\/cmd\/kubeadm\/app\/constants\/constants\.go$/.exec(path);
    if (m) {
      const pause = this.tags[m[1]!];
      return pause === undefined ? undefined : fixture("k8s/constants.go.tmpl")?.replace("{{PAUSE}}", pause);
    }
    if (path === "/k3s/v1-release/channels") return fixture("k3s/channels.json");
    m = /^\/(alpine(?:-3\.24\.1)?)\/(latest-stable|v3\.\d+)\/releases\/([a-z0-9_]+)\/latest-releases\.yaml$/.exec(path);
    if (m) return fixture(`${m[1]}/${m[2] === "latest-stable" ? "v3.24" : m[2]}/releases/${m[3]}/latest-releases.yaml`);
    m = /^\/k8s\/release\/(stable(?:-1\.\d+)?\.txt)$/.exec(path);
    if (m) return fixture(`k8s/release/${m[1]}`);
    if (path === "/debian-cd/archive/") return fixture("debian/archive/index.html");
    if (path === "/github/flannel/releases/latest") return fixture("github/flannel/releases/latest.json");
    m = /^\/github\/flannel\/releases\/tags\/(v\d+\.\d+\.\d+)$/.exec(path);
    if (m) return fixture(`github/flannel/releases/tags/${m[1]}.json`);
    m = /^\/debian-cd\/archive\/(\d+\.\d+\.\d+)\/([a-z0-9]+)\/iso-cd\/SHA256SUMS$/.exec(path);
    if (m) return fixture(`debian/archive/${m[1]}/${m[2]}/iso-cd/SHA256SUMS`);
    m = /^\/github-api\/repos\/([a-z]+\/[a-z]+)\/releases$/.exec(path);
    if (m) return fixture(`github/${m[1]}/releases.json`);
    m = /^\/github\/([a-z]+\/[a-z]+\/releases\/download\/v[0-9.]+\/[A-Za-z0-9._-]+)$/.exec(path);
    if (m) return fixture(`github/${m[1]}`);
    return undefined;
  }
}

function fixture(rel: string): string | undefined {
  try {
    return readFileSync(join(FIXTURES, rel), "utf8");
  } catch {
    return undefined;
  }
}
