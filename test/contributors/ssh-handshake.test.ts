import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { defaultContributors } from "../../src/contributors/index.js";
import { buildBundle } from "../../src/contributors/pipeline.js";
import { renderBundle } from "../../src/bundle/render-bundle.js";
import { writeBundle } from "../../src/bundle/write-bundle.js";
import { flavour } from "../support/configs.js";
import { parseHcl } from "../support/hcl.js";
import { needTool } from "../support/tools.js";

type Json = Record<string, any>;

/**
 * setup-alpine runs setup-sshd in the live ISO (alpine-conf 3.22.0 setup-sshd.in: `rc-update add`
 * and `rc-service start` of sshd), and that sshd refuses root/"vagrant" until install.sh has
 * rebooted into the installed system. Packer counts each refused login (an "authenticate" error)
 * against ssh_handshake_attempts and gives up when it is reached (hashicorp/packer-plugin-sdk
 * communicator/step_connect_ssh.go, waitForSSH: 5 s between tries, 2 s more after a refusal);
 * the default is 10 (communicator/config.go, prepareSSH), about 70 s, spent long before
 * setup-disk and the reboot are done: the Alpine sources must let ssh_timeout end the wait.
 */
const sources = async (name: string) => {
  const rendered = renderBundle(buildBundle(flavour(name), defaultContributors()), { packerVersion: "1.6.6" });
  const parsed = await parseHcl("sources.pkr.hcl", String(rendered.files.get("sources.pkr.hcl")!.content));
  const byType = parsed.source as Json;
  return { rendered, bodies: Object.values(byType).flatMap((byName) => Object.values(byName as Json).map((b) => (b as Json[])[0]!)) };
};

describe("SSH handshake attempts of the build", () => {
  it.each(["kubeadm-both-article-pins", "k3s-aarch64", "no-k8s"])("Alpine (%s): every source sits through the live ISO's refused logins", async (name) => {
    const { bodies } = await sources(name);
    expect(bodies.length).toBeGreaterThan(0);
    for (const body of bodies) {
      expect(body.ssh_timeout).toBe("30m");
      // At >= 7 s per refused attempt, enough to outlast ssh_timeout (30m = 257 attempts).
      expect(body.ssh_handshake_attempts).toBeGreaterThanOrEqual(300);
    }
  });

  it("Debian and a bring-your-own image keep Packer's default (no sshd before the installed system)", async () => {
    for (const name of ["debian-kubeadm-iso", "debian-k3s-own-image"]) {
      for (const body of (await sources(name)).bodies) expect(body.ssh_handshake_attempts).toBeUndefined();
    }
  });

  it.skipIf(!needTool("packer"))("Packer 1.6.6 accepts it (`packer validate`)", async () => {
    const { rendered } = await sources("kubeadm-both-article-pins");
    const dir = mkdtempSync(join(tmpdir(), "homelab-handshake-"));
    try {
      await writeBundle(rendered, join(dir, "b"));
      execFileSync("packer", ["validate", "."], { cwd: join(dir, "b"), env: { ...process.env, CHECKPOINT_DISABLE: "1" } });
      expect(execFileSync("packer", ["version"], { encoding: "utf8" })).toContain("v1.6.6");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
