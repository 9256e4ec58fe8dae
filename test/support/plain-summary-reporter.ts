import type { Reporter, SerializedError, TestModule, TestRunEndReason } from "vitest/node";

/**
 * Prints one plain closing line, "tests: N passed, N failed, N skipped", so that CI and humans
 * reading a log tail get the counts without parsing vitest's decorated summary.
 *
 * The line must never say "0 failed" when vitest exits non-zero. vitest fails a run for more than
 * failed tests: an unhandled error or rejection (even one raised after its test passed), a module
 * that fails to load or whose hooks throw (it then has no failed test, often no test at all), no
 * test files, an interrupted run. Each of those counts as one failure here, and is named after the
 * counts.
 */
export default class PlainSummaryReporter implements Reporter {
  onTestRunEnd(testModules: ReadonlyArray<TestModule>, unhandledErrors: ReadonlyArray<SerializedError> = [], reason: TestRunEndReason = "passed"): void {
    process.stdout.write(`\n${summaryLine(testModules, unhandledErrors, reason)}\n`);
  }
}

export function summaryLine(testModules: ReadonlyArray<TestModule>, unhandledErrors: ReadonlyArray<SerializedError>, reason: TestRunEndReason): string {
  let passed = 0;
  let failed = 0;
  let skipped = 0;
  let brokenModules = 0;
  for (const mod of testModules) {
    let failedHere = 0;
    for (const test of mod.children.allTests()) {
      const state = test.result().state;
      if (state === "passed") passed++;
      else if (state === "failed") failedHere++;
      else skipped++;
    }
    failed += failedHere;
    // A module that failed to load, or whose hooks threw, fails the run without a failed test.
    if (!mod.ok() && failedHere === 0) brokenModules++;
  }
  const notes: string[] = [];
  if (brokenModules > 0) notes.push(`${brokenModules} module${brokenModules === 1 ? "" : "s"} failed outside any test`);
  if (unhandledErrors.length > 0) notes.push(`${unhandledErrors.length} unhandled error${unhandledErrors.length === 1 ? "" : "s"}`);
  failed += brokenModules + unhandledErrors.length;
  // Whatever else made vitest fail the run (no test files, interrupted) is a failure too.
  if (reason !== "passed" && failed === 0) {
    failed = 1;
    notes.push(reason === "interrupted" ? "run interrupted" : "run failed");
  }
  return `tests: ${passed} passed, ${failed} failed, ${skipped} skipped${notes.length ? ` (${notes.join(", ")})` : ""}`;
}
