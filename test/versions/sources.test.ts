import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { latestReleasesUrl, parseLatestReleases } from "../../src/versions/alpine.js";
import { parseK3sChannels } from "../../src/versions/k3s.js";
import { kubeadmConstantsUrl, parsePauseVersion, parseStableTxt, stableTxtUrl } from "../../src/versions/kubernetes.js";
import { parseVersion } from "../../src/versions/version.js";
import { compareVersions } from "../../src/semver.js";

const fixture = (rel: string) => readFileSync(join(import.meta.dirname, "..", "fixtures", "versions", rel), "utf8");

describe("Alpine latest-releases.yaml", () => {
  const yaml = fixture("alpine/v3.24/releases/x86_64/latest-releases.yaml");

  it("picks the alpine-virt entry of the arch, not another flavor", () => {
    const rel = parseLatestReleases(yaml, "x86_64");
    expect(rel.version).toBe("3.24.2");
    expect(rel.file).toBe("alpine-virt-3.24.2-x86_64.iso");
    const standard = /flavor: alpine-standard[\s\S]*?sha256: ([0-9a-f]{64})/.exec(yaml)![1];
    expect(rel.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(rel.sha256).not.toBe(standard);
  });

  it("builds branch and latest-stable URLs from the mirror", () => {
    expect(latestReleasesUrl("https://m.example/alpine/", "3.24", "aarch64")).toBe("https://m.example/alpine/v3.24/releases/aarch64/latest-releases.yaml");
    expect(latestReleasesUrl("https://m.example/alpine", "latest-stable", "x86_64")).toBe(
      "https://m.example/alpine/latest-stable/releases/x86_64/latest-releases.yaml",
    );
  });

  it.each([
    ["garbage YAML", "- [unclosed\n  : :", /not valid YAML/],
    ["a mapping instead of a list", "title: x\n", /expected a YAML list/],
    ["an HTML error page", "<html><body>Service Unavailable</body></html>", /expected a YAML list/],
    ["no virt flavor", yaml.replaceAll("alpine-virt", "alpine-virtual"), /no alpine-virt entry for x86_64/],
    ["another arch only", yaml, /no alpine-virt entry for aarch64/, "aarch64"],
    ["a short checksum", yaml.replace(/(flavor: alpine-virt[\s\S]*?sha256: )[0-9a-f]{64}/, "$1abc123"), /sha256 is not 64 hex/],
    ["an injected file name", yaml.replace("file: alpine-virt-3.24.2-x86_64.iso", "file: x.iso; rm -rf /"), /unexpected file name/],
    ["a version that is not 3.X.Y", yaml.replaceAll("version: 3.24.2", "version: 3.24"), /not a 3\.X\.Y release/],
  ])("rejects %s", (_name, text, error, arch = "x86_64") => {
    expect(() => parseLatestReleases(text, arch)).toThrow(error);
  });
});

describe("Kubernetes stable.txt and kubeadm constants", () => {
  it("reads stable.txt and stable-MAJOR.MINOR.txt", () => {
    expect(parseStableTxt(fixture("k8s/release/stable.txt"))).toBe("v1.35.1");
    expect(parseStableTxt("v1.31.14")).toBe("v1.31.14");
    expect(stableTxtUrl("https://dl.k8s.io/release/", "1.31")).toBe("https://dl.k8s.io/release/stable-1.31.txt");
    expect(stableTxtUrl("https://dl.k8s.io/release")).toBe("https://dl.k8s.io/release/stable.txt");
  });

  it.each(["", "<html>", "v1.36.0-rc.1\n", "1.35.1\n", 'v1.35.1"; echo pwned'])("rejects stable.txt %j", (text) => {
    expect(() => parseStableTxt(text)).toThrow(/expected a release like/);
  });

  it("finds PauseVersion in kubeadm's constants.go", () => {
    expect(parsePauseVersion(fixture("k8s/constants.go.tmpl").replace("{{PAUSE}}", "3.10.1"))).toBe("3.10.1");
    expect(() => parsePauseVersion("package constants\n")).toThrow(/no PauseVersion/);
    expect(kubeadmConstantsUrl("https://raw.githubusercontent.com/kubernetes/kubernetes", "v1.35.1")).toBe(
      "https://raw.githubusercontent.com/kubernetes/kubernetes/v1.35.1/cmd/kubeadm/app/constants/constants.go",
    );
  });
});

describe("k3s channels JSON", () => {
  it("maps channel ids to their newest final release, leaving release candidates out", () => {
    const { latest } = parseK3sChannels(fixture("k3s/channels.json"));
    expect(latest.get("stable")).toBe("v1.34.4+k3s1");
    expect(latest.get("v1.35")).toBe("v1.35.1+k3s1");
    expect(latest.get("v1.30")).toBe("v1.30.14+k3s2");
    expect(latest.has("testing")).toBe(false);
    expect(latest.has("v1.35-testing")).toBe(false);
  });

  it.each([
    ["garbage", "{not json", /not valid JSON/],
    ["no data list", '{"type":"collection"}', /`data` list/],
    ["no stable channel", '{"data":[{"id":"latest","latest":"v1.35.1+k3s1"}]}', /no `stable` channel/],
    ["null", "null", /`data` list/],
  ])("rejects %s", (_n, text, error) => {
    expect(() => parseK3sChannels(text)).toThrow(error);
  });
});

describe("version order", () => {
  it("compares numerically, including the k3s build", () => {
    const a = (t: string) => parseVersion("alpine", t)!;
    expect(compareVersions(a("3.9.1"), a("3.10.0"))).toBeLessThan(0);
    const k = (t: string) => parseVersion("k3s", t)!;
    expect(compareVersions(k("v1.35.1+k3s1"), k("v1.35.1+k3s2"))).toBeLessThan(0);
    expect(compareVersions(k("v1.35.10+k3s1"), k("v1.35.9+k3s3"))).toBeGreaterThan(0);
    expect(parseVersion("kubeadm", "v1.35.1+k3s1")).toBeUndefined();
  });
});
