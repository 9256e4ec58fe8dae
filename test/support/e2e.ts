import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";

const MAKE_IMAGE = fileURLToPath(new URL("../fixtures/debian-base/make-image.sh", import.meta.url));

/** The offline Debian 12 base image (built once with debootstrap, then cached by its inputs). */
export function debianBaseImage(): { image: string; sha256: string } {
  const out = execFileSync("bash", [MAKE_IMAGE], { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] });
  const kv = Object.fromEntries(out.trim().split("\n").map((l) => l.split("=", 2) as [string, string]));
  return { image: kv.image as string, sha256: kv.sha256 as string };
}

/** Running qemu processes whose command line matches `pattern` (a unique name or path). */
export function qemuProcesses(pattern: string): string[] {
  try {
    return execFileSync("pgrep", ["-af", `qemu-system.*${pattern}`], { encoding: "utf8" })
      .split("\n")
      .filter((l) => l.trim() !== "" && !l.includes("pgrep"));
  } catch {
    return [];
  }
}
