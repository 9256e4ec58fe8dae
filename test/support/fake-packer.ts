import { chmodSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const FIXTURES = fileURLToPath(new URL("../fixtures/packer/", import.meta.url));

export type FakeBuild = "success" | "failure" | "wait-for-interrupt";

export interface FakePacker {
  /** The script, for HOMELAB_PACKER. */
  binary: string;
  /** Each invocation's first argument, in order (`version`, `build`, …). */
  calls(): string[];
}

/**
 * A stand-in for `packer` that replays what the real Packer 1.6.6 printed in a recorded build
 * (test/fixtures/packer/build-*.txt, recorded from test/fixtures/packer/e2e-template), for
 * testing what homelab does around Packer (progress, logs, summaries, exit codes, cancel) without
 * a VM. `success` rewrites the recorded output path to the `output_dir` homelab passes and
 * writes the box file there, as Packer's vagrant post-processor does; `failure` replays the
 * failed build and exits 1; `wait-for-interrupt` prints the first lines and, on SIGINT, what
 * Packer prints when it cancels, then exits 1 (as Packer does).
 */
export function fakePacker(mode: FakeBuild, opts: { boxName?: string; boxBytes?: number } = {}): FakePacker {
  const dir = mkdtempSync(join(tmpdir(), "homelab-fake-packer-"));
  const calls = join(dir, "calls");
  writeFileSync(calls, "");
  const binary = join(dir, "packer");
  const success = join(FIXTURES, "build-success.txt");
  const failure = join(FIXTURES, "build-failure.txt");
  const box = opts.boxName ?? "alpine-3.24-k8snode-kubeadm-libvirt.box";
  const script = `#!/bin/bash
echo "$1" >> '${calls}'
case "$1" in
  version) echo "Packer v1.6.6"; exit 0 ;;
  build) ;;
  *) exit 0 ;;
esac
out=""
for a in "$@"; do case "$a" in output_dir=*) out="\${a#output_dir=}" ;; esac; done
case '${mode}' in
  success)
    head -c ${opts.boxBytes ?? 3 * 1024 * 1024 + 512 * 1024} /dev/zero > "$out/${box}"
    sed -e "s#/tmp/e2e-out/e2e_libvirt.box#$out/${box}#g" '${success}'
    exit 0 ;;
  failure)
    cat '${failure}'
    exit 1 ;;
  wait-for-interrupt)
    trap 'echo "2,,ui,error,Cancelling build after receiving interrupt. Please wait..."; exit 1' INT
    head -n 3 '${success}'
    while true; do sleep 0.1; done ;;
esac
`;
  writeFileSync(binary, script);
  chmodSync(binary, 0o755);
  return { binary, calls: () => readFileSync(calls, "utf8").split("\n").filter(Boolean) };
}
