import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it, vi } from "vitest";

/**
 * The race the adversarial suite met once (a force-replace answered 403 "outside the root"): a
 * file removed by a concurrent rm between the containment check's lstat and its realpath. Here
 * realpath removes the file just before it looks, every time, so the window is always hit.
 */
const vanishing = new Set<string>();
vi.mock("node:fs", async (importOriginal) => {
  const fs = await importOriginal<typeof import("node:fs")>();
  return {
    ...fs,
    realpathSync: (p: string) => {
      if (vanishing.delete(p)) fs.rmSync(p, { force: true });
      return fs.realpathSync(p);
    },
  };
});
const { resolveInside, OutsideRootError } = await import("../../src/fs/contain.js");

describe("resolveInside while another request removes the file", () => {
  it("a file removed between lstat and realpath is missing, not a dangling symlink: the path is returned", () => {
    const root = mkdtempSync(join(tmpdir(), "homelab-contain-race-"));
    try {
      mkdirSync(join(root, "acme/box/1.0.0"), { recursive: true });
      const file = join(root, "acme/box/1.0.0/libvirt-amd64.box");
      writeFileSync(file, "x");
      vanishing.add(file);
      expect(resolveInside(root, "acme", "box", "1.0.0/libvirt-amd64.box")).toBe(file);
      expect(vanishing.has(file)).toBe(false); // the race really happened
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it("a real dangling symlink is still refused", () => {
    const root = mkdtempSync(join(tmpdir(), "homelab-contain-race-"));
    try {
      symlinkSync("/nonexistent-homelab-target", join(root, "link"));
      expect(() => resolveInside(root, "link")).toThrow(OutsideRootError);
      expect(() => resolveInside(root, "link")).toThrow(/dangling symlink/);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
