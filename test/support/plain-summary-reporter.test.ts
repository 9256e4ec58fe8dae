import { execFile } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";

/**
 * The summary line of test/support/plain-summary-reporter.ts against vitest's own verdict: the
 * real vitest runs the fixture project test/fixtures/reporter (files *.check.ts, outside the
 * main run) in a child process, one case at a time.
 */
const FIXTURE = fileURLToPath(new URL("../fixtures/reporter/", import.meta.url));
const VITEST = fileURLToPath(new URL("../../node_modules/vitest/vitest.mjs", import.meta.url));
const cacheDir = mkdtempSync(join(tmpdir(), "homelab-reporter-cache-"));
afterAll(() => rmSync(cacheDir, { recursive: true, force: true }));

interface Verdict {
  code: number;
  line: string;
  passed: number;
  failed: number;
  skipped: number;
}

function runFixture(file: string): Promise<Verdict> {
  // Nothing of this vitest worker's own environment (VITEST_POOL_ID, ...) reaches the child.
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("VITEST") && k !== "TEST" && k !== "NODE_ENV"));
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      [VITEST, "run", "--config", join(FIXTURE, "vitest.config.ts"), "--root", FIXTURE, `${file}`],
      { cwd: FIXTURE, env: { ...env, FIXTURE_CACHE_DIR: cacheDir, CI: "" }, timeout: 50_000 },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === "number" ? err.code : -1) : 0;
        const line = stdout.split("\n").filter((l) => l.startsWith("tests: ")).at(-1);
        const m = line && /^tests: (\d+) passed, (\d+) failed, (\d+) skipped/.exec(line);
        if (!line || !m) return reject(new Error(`no summary line (exit ${code}):\n${stdout}\n${stderr}`));
        resolve({ code, line, passed: Number(m[1]), failed: Number(m[2]), skipped: Number(m[3]) });
      },
    );
  });
}

describe("plain summary line", () => {
  it.each([
    // file filter, expected counts, expected exit code, what the line says besides the counts
    ["pass.check.ts", { passed: 1, failed: 0, skipped: 1 }, 0, undefined],
    ["unhandled-rejection.check.ts", { passed: 1, failed: 1, skipped: 0 }, 1, "1 unhandled error"],
    ["import-failure.check.ts", { passed: 0, failed: 1, skipped: 0 }, 1, "1 module failed outside any test"],
    ["failing-hook.check.ts", { passed: 1, failed: 1, skipped: 0 }, 1, "1 module failed outside any test"],
    ["no-such-file.check.ts", { passed: 0, failed: 1, skipped: 0 }, 1, "run failed"],
  ] as const)("%s: the counts agree with vitest's exit code", async (file, counts, code, note) => {
    const verdict = await runFixture(file);
    expect(verdict.code, verdict.line).toBe(code);
    expect(verdict).toMatchObject(counts);
    // The rule the line exists for: "0 failed" exactly when vitest exits 0.
    expect(verdict.failed === 0).toBe(verdict.code === 0);
    if (note) expect(verdict.line).toContain(`(${note})`);
    else expect(verdict.line).not.toContain("(");
  });
});
