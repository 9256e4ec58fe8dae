import { execFileSync } from "node:child_process";

/**
 * Whether an external tool is on PATH. Tests that need one call `needTool`: on a developer's
 * machine a missing tool skips the test with a reason; under CI=true it is a failure, because
 * CI must have installed every tool the suite needs (a silent skip would hide a broken .ci/run).
 */
export function hasTool(name: string): boolean {
  try {
    execFileSync("sh", ["-c", `command -v "$1"`, "sh", name], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

export function needTool(name: string): boolean {
  if (hasTool(name)) return true;
  if (process.env.CI === "true") {
    throw new Error(`required tool '${name}' is not installed (CI=true: tests may not skip)`);
  }
  return false;
}
