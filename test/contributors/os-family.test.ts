import { describe, expect, it } from "vitest";
import { DEFAULTS } from "../../src/config/defaults.js";
import { renderConfig } from "../../src/generate.js";
import { config } from "../support/configs.js";
import { parseHcl } from "../support/hcl.js";

type Json = Record<string, any>;

/**
 * What a bundle carries because of its OS family (src/os): the builder's name, who logs in, the
 * VirtualBox OS type, the install source's variables and http/ files, the base step and script
 * set, and the pins its README names. One table, one row per family (and own image).
 */
const ISO = `https://cdimage.debian.org/cdimage/archive/12.15.0/amd64/iso-cd/debian-12.15.0-amd64-netinst.iso`;
const CASES = [
  {
    name: "alpine",
    yaml: "k8s: {distribution: kubeadm}\nproviders: [libvirt, virtualbox]\n",
    source: "alpine",
    login: ["root", "vagrant"],
    guest: "Linux26_64",
    values: { iso_checksum: `sha256:3ab424762af704b2c2a9e57df1dc37f982af260071504d977f2fb96822e7130b`, alpine_version: DEFAULTS.alpine.version },
    http: ["http/answers", "http/install.sh"],
    base: "base-alpine",
    pins: `Pins (Alpine ${DEFAULTS.alpine.version}, kubeadm ${DEFAULTS.k8s.kubeadm})`,
    box: "homelab/alpine-3.24-k8snode-kubeadm",
  },
  {
    name: "debian",
    yaml: "debian: {}\nk8s: {distribution: k3s}\nproviders: [libvirt, virtualbox]\n",
    source: "debian",
    login: ["vagrant", "vagrant"],
    guest: "Debian_64",
    values: { iso_url: ISO, iso_checksum: "sha256:cd4462c06aa8892e692c0c4b9c17802f38c8ab8690e85cbfb5ccaa5956e9af17" },
    http: ["http/debian-preseed.cfg"],
    base: "base-debian",
    pins: `Pins (Debian 12.15.0 netinst, k3s ${DEFAULTS.k8s.k3s})`,
    box: "homelab/debian-12-k8snode-k3s",
  },
  {
    name: "debian own image",
    yaml: `debian: {}\nbase: {image: /srv/debian.qcow2, checksum: 'sha256:${"cd".repeat(32)}', ssh: {username: admin, password: s3cret}}\n`,
    source: "debian",
    login: ["admin", "s3cret"],
    guest: undefined,
    values: { base_image: "/srv/debian.qcow2", base_image_checksum: `sha256:${"cd".repeat(32)}` },
    http: [],
    base: "base-debian",
    pins: `Pins (base image sha256:${"cd".repeat(32)})`,
    box: "homelab/debian-12-base",
  },
];

describe.each(CASES)("the $name bundle", (c) => {
  const rendered = renderConfig(config(c.yaml));
  const file = (path: string) => String(rendered.files.get(path)?.content ?? "");

  it("builds, logs in and names the VM as its OS family says", async () => {
    const sources = (await parseHcl("s.hcl", file("sources.pkr.hcl"))).source as Json;
    const qemu = sources.qemu[c.source][0];
    expect([qemu.ssh_username, qemu.ssh_password, qemu.vm_name]).toEqual([...c.login, c.source]);
    if (c.guest) expect(sources["virtualbox-iso"][c.source][0].guest_os_type).toBe(c.guest);
    expect(await parseHcl("v.hcl", file("homelab.auto.pkrvars.hcl"))).toMatchObject(c.values);
    expect([...rendered.files.keys()].filter((p) => p.startsWith("http/"))).toEqual(c.http);
  });

  it("runs the family's base script, composed from its script set", () => {
    const base = file(`scripts/${c.base}.sh`);
    expect(base).toMatch(new RegExp(`^#!/bin/sh\\n# homelab step ${c.base} \\(${c.source}\\)`));
    expect(base).toContain(`# --- part: ${c.source}/base.sh ---\n`);
    for (const [path] of rendered.files) if (path.startsWith("scripts/")) expect(file(path)).not.toMatch(new RegExp(`# --- part: ${c.source === "alpine" ? "debian" : "alpine"}/`));
  });

  it("names the box and its own pins in the README", () => {
    const readme = file("README.md");
    expect(readme).toMatch(new RegExp(`^# ${c.box}\\n`));
    expect(readme.replace(/\n/g, " ")).toContain(`${c.pins} are in`);
  });
});
