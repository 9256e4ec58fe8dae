import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Real tools (packer, qemu, bwrap) are CPU-heavy; two cores on CI.
    maxWorkers: 2,
    reporters: ["default", "./test/support/plain-summary-reporter.ts"],
  },
});
