import { BaseSequencer, type TestSpecification } from "vitest/node";

/**
 * vitest's own order (slowest known first), except that the cluster e2e runs after the build
 * e2e: build.e2e hands its box to cluster.e2e (test/support/e2e.ts handOverBuild), which would
 * otherwise build the same box again.
 */
export default class E2eOrder extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const sorted = await super.sort(files);
    const rank = (f: TestSpecification) => (f.moduleId.endsWith("/cluster.e2e.test.ts") ? 1 : 0);
    return [...sorted].sort((a, b) => rank(a) - rank(b));
  }
}
