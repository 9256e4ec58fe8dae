import { defineConfig } from "vitest/config";
import E2eOrder from "./test/support/e2e-order.js";

/**
 * One run, two groups: the unit and script tests first (in parallel), then the end-to-end tests
 * that boot real VMs under TCG, one file at a time (two VMs at once on two cores would only make
 * both slower and flakier). One run gives one closing summary line.
 */
export default defineConfig({
  test: {
    testTimeout: 60_000,
    hookTimeout: 120_000,
    reporters: ["default", "./test/support/plain-summary-reporter.ts"],
    sequence: { sequencer: E2eOrder },
    projects: [
      {
        extends: true,
        test: { name: "unit", include: ["test/**/*.test.ts"], exclude: ["test/e2e/**"], maxWorkers: 2, sequence: { groupOrder: 0 } },
      },
      {
        extends: true,
        test: { name: "e2e", include: ["test/e2e/**/*.test.ts"], maxWorkers: 1, fileParallelism: false, sequence: { groupOrder: 1 } },
      },
    ],
  },
});
