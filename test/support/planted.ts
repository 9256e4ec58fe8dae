import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { expect } from "vitest";

/**
 * A user's files, planted before a command runs and checked after it: "never delete or replace
 * what homelab did not write" is proven file by file, byte for byte.
 */
export type Tree = Record<string, string>;

/** Writes files (relative names, parents made) under `dir`. */
export function plant(dir: string, tree: Tree): void {
  for (const [name, content] of Object.entries(tree)) {
    mkdirSync(join(dir, name, ".."), { recursive: true });
    writeFileSync(join(dir, name), content);
  }
}

/** Asserts every planted file is still there with the very same content. */
export function expectIntact(dir: string, tree: Tree): void {
  for (const [name, content] of Object.entries(tree)) {
    expect(existsSync(join(dir, name)), `${name} was deleted`).toBe(true);
    expect(readFileSync(join(dir, name), "utf8"), `${name} was replaced`).toBe(content);
  }
}
