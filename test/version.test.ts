import { readFileSync } from "node:fs";
import { expect, it } from "vitest";
import { VERSION } from "../src/version.js";
import { runCli } from "./support/cli.js";

it("homelab --version reports package.json's version", async () => {
  const pkg = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8"));
  expect(VERSION).toBe(pkg.version);
  expect((await runCli(["--version"])).stdout.trim()).toBe(pkg.version);
});
