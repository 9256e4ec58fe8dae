import { execFile } from "node:child_process";

/**
 * The installed Packer's version (`1.6.6`), or undefined when Packer is not installed.
 * `packer version` prints `Packer v1.6.6` (and, on newer versions, more lines).
 */
export function detectPackerVersion(binary = process.env.HOMELAB_PACKER ?? "packer"): Promise<string | undefined> {
  return new Promise((resolve) => {
    execFile(binary, ["version"], { env: { ...process.env, CHECKPOINT_DISABLE: "1" }, timeout: 10_000 }, (err, stdout) => {
      if (err) return resolve(undefined);
      resolve(/Packer v(\d+\.\d+\.\d+)/.exec(stdout)?.[1]);
    });
  });
}
