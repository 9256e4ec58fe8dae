import { execFileSync } from "node:child_process";
import { readdirSync } from "node:fs";
import { join, relative } from "node:path";
import { describe, expect, it } from "vitest";
import { SCRIPTS_DIR } from "../support/sandbox.js";
import { needTool } from "../support/tools.js";

function shellScripts(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? shellScripts(join(dir, e.name)) : e.name.endsWith(".sh") ? [join(dir, e.name)] : [],
  );
}

describe.skipIf(!needTool("shellcheck"))("assets/scripts under shellcheck -s sh", () => {
  const scripts = shellScripts(SCRIPTS_DIR);

  it("finds the node scripts", () => {
    expect(scripts.map((s) => relative(SCRIPTS_DIR, s)).sort()).toEqual(
      expect.arrayContaining(["base-alpine.sh", "k8s-containerd.sh", "k8s-k3s.sh", "k8s-kernel.sh", "k8s-kubeadm.sh", "k8s-swap.sh", "node-verify.sh", "sysprep.sh"]),
    );
    // The Debian twins (run by dash as sh): same step names.
    expect(scripts.map((s) => relative(SCRIPTS_DIR, s)).sort()).toEqual(
      expect.arrayContaining(["base-debian.sh", "k8s-containerd.sh", "k8s-k3s.sh", "k8s-kernel.sh", "k8s-kubeadm.sh", "k8s-swap.sh", "node-verify.sh", "sysprep.sh"].map((n) => `debian/${n}`)),
    );
  });

  it.each(scripts.map((s) => [relative(SCRIPTS_DIR, s), s]))("%s is clean", (_name, path) => {
    // execFileSync throws with shellcheck's findings in the message when it exits non-zero.
    expect(() => execFileSync("shellcheck", ["-s", "sh", "-x", path], { encoding: "utf8", stdio: "pipe" })).not.toThrow();
  });
});
