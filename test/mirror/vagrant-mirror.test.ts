import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startRegistryServer, type RegistryServer } from "../../src/box/server.js";
import { makeBox, runCli, tempDir } from "../box/support.js";
import { MirrorSource } from "../support/mirror-source.js";
import { needTool } from "../support/tools.js";
import { VagrantClient } from "../support/vagrant-client.js";

/**
 * The seam after the mirror: Debian's real vagrant (2.3.4, vagrant-libvirt) adds a box that
 * `homelab box mirror` copied from an HCP-shaped source (API answer, redirect to storage), from
 * the registry it was mirrored into, served by `homelab box serve` on 127.0.0.1.
 */
describe.skipIf(!needTool("vagrant") || !needTool("qemu-img"))("vagrant box add of a mirrored box", () => {
  const tmp = tempDir("homelab-mirror-vagrant-");
  const root = join(tmp.path, "registry");
  const vagrant = new VagrantClient({ home: join(tmp.path, "vagrant-home") });
  let source: MirrorSource;
  let server: RegistryServer;

  beforeAll(async () => {
    source = await MirrorSource.start();
    const body = (marker: string) => readFileSync(makeBox(tmp.path, marker, { qcow2: true, marker }));
    source.add({ org: "closing", box: "alpine", version: "3.20.1", provider: "libvirt", arch: "amd64", checksumType: "sha512", body: body("3.20.1-amd64") });
    source.add({ org: "closing", box: "alpine", version: "3.20.1", provider: "libvirt", arch: "arm64", checksumType: "sha1", body: body("3.20.1-arm64") });
    source.add({ org: "closing", box: "alpine", version: "3.19.4", provider: "libvirt", arch: "amd64", checksumType: "md5", body: body("3.19.4-amd64") });
    const r = await runCli(["box", "mirror", "closing/alpine", "--api", source.api, "--to", root, "--work-dir", join(tmp.path, "work")]);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    server = await startRegistryServer({ root, port: 0, writeTokens: [], readTokens: [] });
  });
  afterAll(async () => {
    await server?.close({ graceMs: 1000 });
    await source?.close();
    tmp.cleanup();
  });

  it("adds the newest mirrored version (the default architecture) from the registry's catalog URL", async () => {
    const add = await vagrant.addBox(`${server.url}/closing/alpine`);
    expect(add.code, add.output).toBe(0);
    // Vagrant checked the registry's sha256 and downloaded from the registry, not from the source.
    expect(add.output).toContain(`${server.url}/closing/alpine/3.20.1/libvirt/amd64`);
    const list = await vagrant.run(["box", "list"]);
    expect(list.output).toMatch(/^closing\/alpine\s+\(libvirt, 3\.20\.1\)$/m);
    expect(add.marker, add.output).toBe("3.20.1-amd64");
  });
});
