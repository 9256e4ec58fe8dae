import { existsSync, mkdtempSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ConfigError, parseConfig } from "../../src/config/load.js";
import { runCli } from "../support/cli.js";

/**
 * Each bad config must be refused with a ConfigError (exit 2) naming file:line:col and the field.
 * `where` is the expected `line:col: field` (field "" for file-level problems). The loader is run
 * in process; a few cases below go through the CLI to prove exit 2, stderr and that nothing is
 * written.
 */
const CORPUS: Array<{ name: string; yaml: string; where: string; says?: RegExp }> = [
  { name: "empty file", yaml: "", where: "1:1: ", says: /empty file/ },
  { name: "only a comment", yaml: "# nothing here\n", where: "1:1: ", says: /empty file/ },
  { name: "bad YAML indentation", yaml: "org: a\n  alpine: b\n", where: "1:", says: /invalid YAML/ },
  { name: "unclosed flow list", yaml: "providers: [libvirt\n", where: "", says: /invalid YAML/ },
  { name: "duplicate key", yaml: "org: a\norg: b\n", where: "2:1", says: /invalid YAML/ },
  { name: "top level is a list", yaml: "- org: a\n", where: "1:1: ", says: /expected a mapping/ },
  { name: "unknown top-level key", yaml: "orgg: acme\n", where: "1:1: orgg", says: /did you mean "org"/ },
  { name: "unknown nested key", yaml: "alpine:\n  versoin: 3.24.2\n", where: "2:3: alpine.versoin", says: /did you mean "version"/ },
  { name: "org with uppercase", yaml: "org: Acme\n", where: "1:6: org", says: /got "Acme"/ },
  { name: "org with a quote", yaml: "org: 'ac\"me'\n", where: "1:6: org" },
  { name: "org with ${", yaml: "org: a${b}\n", where: "1:6: org" },
  { name: "org with a semicolon", yaml: "org: a;reboot\n", where: "1:6: org" },
  { name: "org with a newline", yaml: 'org: "a\\nb"\n', where: "1:6: org", says: /got "a\\nb"/ },
  { name: "org is a number", yaml: "org: 42\n", where: "1:6: org", says: /expected a string, got number 42/ },
  { name: "alpine is a string", yaml: "alpine: latest\n", where: "1:9: alpine", says: /expected a mapping/ },
  { name: "alpine version not pinned", yaml: "alpine:\n  version: latest\n", where: "2:12: alpine.version" },
  { name: "alpine version two parts", yaml: "alpine:\n  version: '3.24'\n", where: "2:12: alpine.version" },
  { name: "alpine version with shell", yaml: "alpine:\n  version: 3.24.2;ls\n", where: "2:12: alpine.version" },
  { name: "unknown arch", yaml: "alpine:\n  arch: arm64\n", where: "2:9: alpine.arch", says: /"x86_64" \| "aarch64"/ },
  { name: "checksum not sha256", yaml: "alpine:\n  isoChecksum: md5:abc\n", where: "2:16: alpine.isoChecksum" },
  { name: "unknown release without checksum", yaml: "alpine:\n  version: 3.24.9\n", where: "2:12: alpine.isoChecksum" },
  { name: "mirror with a quote", yaml: "alpine:\n  mirror: 'http://x\" ; reboot'\n", where: "2:11: alpine.mirror" },
  { name: "mirror not http", yaml: "alpine:\n  mirror: file:///etc\n", where: "2:11: alpine.mirror" },
  { name: "unknown distribution", yaml: "k8s:\n  distribution: minikube\n", where: "2:17: k8s.distribution" },
  { name: "missing distribution", yaml: "k8s:\n  version: v1.36.5\n", where: "2:3: k8s.distribution", says: /field is missing/ },
  { name: "k3s version with kubeadm", yaml: "k8s:\n  distribution: kubeadm\n  version: v1.36.5+k3s1\n", where: "3:12: k8s.version" },
  { name: "kubeadm version with k3s", yaml: "k8s:\n  distribution: k3s\n  version: v1.36.5\n", where: "3:12: k8s.version" },
  { name: "version without v", yaml: "k8s:\n  distribution: kubeadm\n  version: 1.36.5\n", where: "3:12: k8s.version" },
  { name: "unsupported Kubernetes minor", yaml: "k8s:\n  distribution: kubeadm\n  version: v1.20.1\n", where: "3:12: k8s.version", says: /minor/ },
  { name: "version with ${", yaml: "k8s:\n  distribution: kubeadm\n  version: v1.36.5${x}\n", where: "3:12: k8s.version" },
  { name: "unknown bake mode", yaml: "k8s:\n  distribution: k3s\n  bake: full\n", where: "3:9: k8s.bake" },
  { name: "CNI misspelt", yaml: "k8s:\n  distribution: kubeadm\n  cni: flanel\n", where: "3:8: k8s.cni", says: /got "flanel"; did you mean "flannel"\?/ },
  { name: "CNI with k3s", yaml: "k8s:\n  distribution: k3s\n  cni: flannel\n", where: "3:8: k8s.cni", says: /k3s brings its own flannel/ },
  { name: "unknown provider", yaml: "providers: [hyperv]\n", where: "1:13: providers.0" },
  { name: "empty providers", yaml: "providers: []\n", where: "1:12: providers", says: /at least one/ },
  { name: "duplicate provider", yaml: "providers: [libvirt, libvirt]\n", where: "1:12: providers" },
  { name: "virtualbox on aarch64", yaml: "alpine:\n  arch: aarch64\nproviders: [virtualbox]\n", where: "3:12: providers" },
  { name: "disk too small", yaml: "vm:\n  diskSizeMiB: 4096\n", where: "2:16: vm.diskSizeMiB", says: /at least 20480/ },
  { name: "fractional cpus", yaml: "vm:\n  cpus: 1.5\n", where: "2:9: vm.cpus", says: /expected a whole number, got number 1\.5$/ },
  { name: "zero cpus", yaml: "vm:\n  cpus: 0\n", where: "2:9: vm.cpus", says: /expected a number at least 1, got number 0$/ },
  { name: "too many cpus", yaml: "vm:\n  cpus: 65\n", where: "2:9: vm.cpus", says: /expected a number at most 64, got number 65$/ },
  { name: "alpine version as a YAML number", yaml: "alpine:\n  version: 3.24\n", where: "2:12: alpine.version", says: /got number 3\.24 \(YAML reads an unquoted 3\.24 as a number: write a point release such as "\d+\.\d+\.\d+", in quotes\)/ },
  { name: "arch by another name", yaml: "debian:\n  arch: arm64\n", where: "2:9: debian.arch", says: /got "arm64"; did you mean "aarch64"\?/ },
  { name: "arch misspelt", yaml: "alpine:\n  arch: x86-64\n", where: "2:9: alpine.arch", says: /did you mean "x86_64"\?/ },
  { name: "memory as string", yaml: "vm:\n  memoryMiB: 2G\n", where: "2:14: vm.memoryMiB" },
  { name: "alpine and debian together", yaml: "alpine: {version: 3.24.2}\ndebian: {}\n", where: "2:9: debian", says: /either an alpine or a debian section/ },
  { name: "unknown Debian release", yaml: "debian:\n  release: '11'\n", where: "2:12: debian.release" },
  { name: "Debian arm64 without a base image", yaml: "debian:\n  arch: aarch64\n", where: "2:9: base.image", says: /Debian 12 on aarch64 \(homelab has no arm64 installer ISO/ },
  { name: "Debian mirror with a base image", yaml: "debian: {mirror: 'http://mirror.lan/debian'}\nbase: {image: /b.qcow2, checksum: sha256:" + "a".repeat(64) + "}\n", where: "1:18: debian.mirror", says: /a base image keeps its own apt sources/ },
  { name: "Debian mirror not http", yaml: "debian:\n  mirror: ftp://ftp.debian.org/debian\n", where: "2:11: debian.mirror" },
  // containerd's RELEASES.md Kubernetes support table (src/config/containerd-support.ts).
  { name: "containerd the table rules out for the Kubernetes minor", yaml: "debian: {}\nk8s:\n  distribution: kubeadm\n  version: v1.36.5\n  containerd: {version: 2.1.9, sha256: sha256:" + "a".repeat(64) + "}\n", where: "5:25: k8s.containerd.version", says: /got containerd 2\.1\.9 with k8s\.version v1\.36\.5: containerd's RELEASES\.md recommends 2\.3\.0\+, 2\.2\.0\+ for 1\.36/ },
  { name: "containerd patch below the table's first for its line", yaml: "debian: {}\nk8s:\n  distribution: kubeadm\n  version: v1.35.1\n  containerd:\n    version: 2.1.4\n    sha256: sha256:" + "a".repeat(64) + "\n", where: "6:14: k8s.containerd.version", says: /recommends 2\.2\.0\+, 2\.1\.5\+ for 1\.35/ },
  { name: "default containerd with a Kubernetes minor the table has no row for", yaml: "debian: {}\nk8s:\n  distribution: kubeadm\n  version: v1.37.1\n", where: "4:12: k8s.version", says: /got containerd 2\.3\.4 \(homelab's default\) with k8s\.version v1\.37\.1: containerd's RELEASES\.md lists no containerd release for Kubernetes 1\.37 yet/ },
  { name: "no known containerd for the Kubernetes minor (1.34: 2.1.3+ or 2.0.6+)", yaml: "debian: {}\nk8s:\n  distribution: kubeadm\n  version: v1.34.2\n", where: "4:12: k8s.version", says: /got containerd 2\.3\.4 \(homelab's default\) with k8s\.version v1\.34\.2: containerd's RELEASES\.md recommends 2\.1\.3\+, 2\.0\.6\+ for 1\.34/ },
  { name: "containerd 1.x", yaml: "debian: {}\nk8s:\n  distribution: kubeadm\n  version: v1.34.2\n  containerd: {version: 1.7.28, sha256: sha256:" + "a".repeat(64) + "}\n", where: "5:25: k8s.containerd.version", says: /recommends 2\.1\.3\+, 2\.0\.6\+ for 1\.34/ },
  { name: "containerd release homelab has no checksum for", yaml: "debian: {}\nk8s:\n  distribution: kubeadm\n  containerd: {version: 2.3.3}\n", where: "4:25: k8s.containerd.sha256", says: /expected the sha256 of containerd-2\.3\.3-linux-amd64\.tar\.gz/ },
  { name: "runc release homelab has no checksum for", yaml: "debian: {}\nk8s:\n  distribution: kubeadm\n  runc:\n    version: 1.3.6\n", where: "5:14: k8s.runc.sha256", says: /expected the sha256 of runc\.amd64/ },
  { name: "containerd version with a v", yaml: "debian: {}\nk8s:\n  distribution: kubeadm\n  containerd: {version: v2.3.4}\n", where: "4:25: k8s.containerd.version", says: /without the v/ },
  { name: "containerd url with a quote", yaml: "debian: {}\nk8s:\n  distribution: kubeadm\n  containerd: {url: 'http://x\" ; reboot'}\n", where: "4:21: k8s.containerd.url" },
  { name: "containerd pin on Alpine", yaml: "k8s:\n  distribution: kubeadm\n  containerd: {version: 2.3.4}\n", where: "3:15: k8s.containerd", says: /only Debian kubeadm nodes install upstream releases \(Alpine nodes run Alpine's packaged containerd and runc\)/ },
  { name: "boot check without the baked images", yaml: "k8s:\n  distribution: kubeadm\n  bake: binary\n  bootCheck: true\n", where: "4:14: k8s.bootCheck", says: /expected bake airgap for the boot check \(it boots Kubernetes offline from the baked images\), got bake binary/ },
  { name: "boot check not a boolean", yaml: "k8s:\n  distribution: kubeadm\n  bootCheck: yes please\n", where: "3:14: k8s.bootCheck", says: /expected true or false, got "yes please"/ },
  { name: "runc pin on k3s", yaml: "debian: {}\nk8s:\n  distribution: k3s\n  runc: {version: 1.4.3}\n", where: "4:9: k8s.runc", says: /k3s runs its embedded containerd/ },
  { name: "base image with VirtualBox", yaml: "base:\n  image: /img/base.qcow2\n  checksum: sha256:" + "a".repeat(64) + "\nproviders: [virtualbox]\n", where: "4:12: providers" },
  { name: "base image without checksum", yaml: "base:\n  image: /img/base.qcow2\n", where: "2:3: base.checksum", says: /field is missing/ },
  { name: "base image path with a space", yaml: "base:\n  image: '/img/my base.qcow2'\n  checksum: sha256:" + "a".repeat(64) + "\n", where: "2:10: base.image" },
  { name: "ssh password with a quote", yaml: "base:\n  image: /b.qcow2\n  checksum: sha256:" + "a".repeat(64) + "\n  ssh: {password: \"pa'ss\"}\n", where: "4:19: base.ssh.password" },
  { name: "ssh user with ${", yaml: "base:\n  image: /b.qcow2\n  checksum: sha256:" + "a".repeat(64) + "\n  ssh:\n    username: a${b}\n", where: "5:15: base.ssh.username" },
  { name: "box version not semver", yaml: "box:\n  version: v1\n", where: "2:12: box.version" },
  { name: "alias bomb", yaml: "a: &a [x,x,x,x,x,x,x,x,x]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\norg: [*c,*c,*c,*c,*c,*c,*c,*c,*c]\n", where: "2:8: ", says: /alias bomb/ },
  { name: "alias without anchor", yaml: "org: *nope\n", where: "1:6: ", says: /no anchor &nope/ },
  { name: "alias inside its own anchor", yaml: "providers: &p [*p]\n", where: "1:16: ", says: /a cycle/ },
  { name: "duplicate key in a flow mapping", yaml: "vm: {cpus: 2, cpus: 4}\n", where: "1:15: ", says: /keys must be unique/ },
  { name: "NUL byte in a comment", yaml: "org: acme # \u0000\n", where: "1:13: ", says: /U\+0000/ },
];

/** The located lines of a ConfigError, as the CLI prints them under its message. */
function refusal(yaml: string): ConfigError {
  try {
    parseConfig(yaml, "homelab.yaml");
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error("the config was accepted");
}

describe("bad configs", () => {
  it.each(CORPUS)("$name: a ConfigError at the right line, column and field", ({ yaml, where, says }) => {
    const err = refusal(yaml);
    expect(err.exitCode).toBe(2);
    expect(err.details.join("\n")).toContain(`homelab.yaml:${where}`);
    if (says) expect(err.details.join("\n")).toMatch(says);
  });

  it("accepts debian.release as the number 12 (what YAML makes of an unquoted 12)", () => {
    const config = parseConfig("debian:\n  release: 12\n", "homelab.yaml");
    expect(config.family === "debian" && config.debian.release).toBe("12");
  });

  it("reports a missing ISO checksum together with the other problems, not after they are fixed", () => {
    const err = refusal('box: {version: "1.0"}\nk8s: {distribution: kubeadm, version: "1.36"}\nalpine: {version: 3.99.1}\n');
    expect(err.problems.map((p) => `${p.line}:${p.col} ${p.path}`)).toEqual(["1:16 box.version", "2:39 k8s.version", "3:19 alpine.isoChecksum"]);
  });

  it("reports every problem at once, in file order", () => {
    const err = refusal("org: Bad\nalpine:\n  arch: arm\nk8s:\n  distribution: k3s\n  version: v1.36.5\nvm:\n  cpus: 0\n");
    expect(err.problems.map((p) => `${p.line}:${p.col} ${p.path}`)).toEqual(["1:6 org", "3:9 alpine.arch", "6:12 k8s.version", "8:9 vm.cpus"]);
  });
});

describe("bad configs through the CLI", () => {
  it.concurrent.each(CORPUS.filter((c) => ["org with a newline", "unknown nested key", "Debian mirror with a base image"].includes(c.name)))(
    "$name: `homelab generate` exits 2 with file:line on stderr, no stack trace, and writes nothing",
    async ({ yaml, where }) => {
      const dir = mkdtempSync(join(tmpdir(), "homelab-bad-"));
      writeFileSync(join(dir, "homelab.yaml"), yaml);
      const result = await runCli(["generate", "-c", "homelab.yaml", "-o", "bundle"], { cwd: dir });
      expect(result.code, result.stderr).toBe(2);
      expect(result.stdout).toBe("");
      expect(result.stderr).toContain(`homelab.yaml:${where}`);
      expect(result.stderr).not.toMatch(/\n\s+at /);
      expect(existsSync(join(dir, "bundle"))).toBe(false);
      expect(readdirSync(dir)).toEqual(["homelab.yaml"]);
    },
  );

  it("`homelab validate` lists every problem, in file order", async () => {
    const dir = mkdtempSync(join(tmpdir(), "homelab-bad-"));
    writeFileSync(join(dir, "homelab.yaml"), "org: Bad\nalpine:\n  arch: arm\nk8s:\n  distribution: k3s\n  version: v1.36.5\nvm:\n  cpus: 0\n");
    const result = await runCli(["validate", "-c", "homelab.yaml"], { cwd: dir });
    expect(result.code).toBe(2);
    const located = result.stderr.split("\n").filter((l) => l.startsWith("  homelab.yaml:"));
    expect(located.map((l) => l.trim().split(": ")[0])).toEqual(["homelab.yaml:1:6", "homelab.yaml:3:9", "homelab.yaml:6:12", "homelab.yaml:8:9"]);
  });
});

describe("the containerd a Debian kubeadm node gets without a pin", () => {
  it("is the newest one homelab knows that containerd recommends for the Kubernetes minor", () => {
    const runtime = (yaml: string) => parseConfig(yaml).k8s?.runtime?.containerd.version;
    expect(runtime("debian: {}\nk8s: {distribution: kubeadm}\n")).toBe("2.3.4");
    expect(runtime("debian: {}\nk8s: {distribution: kubeadm, version: v1.35.1}\n")).toBe("2.2.7");
  });
});
