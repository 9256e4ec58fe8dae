import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { needTool } from "../support/tools.js";

const SCRIPT = fileURLToPath(new URL("../fixtures/debian-base/make-image.sh", import.meta.url));

// The image itself is built (and its cache hit exercised) by test/e2e/packer-client.e2e.test.ts.
describe.skipIf(!needTool("shellcheck"))("the Debian base image script", () => {
  it("is shellcheck-clean", () => {
    expect(() => execFileSync("shellcheck", ["--shell=bash", SCRIPT], { encoding: "utf8" })).not.toThrow();
  });
});
