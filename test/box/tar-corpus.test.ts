import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { inspectBox } from "../../src/box/inspect.js";
import { needTool } from "../support/tools.js";
import { tempDir } from "./support.js";
import { corpusSpecs, LONG_PATH, makeTrees, type Trees } from "./tar-corpus.js";
import { gnuTarListing, pythonListing, readWithOurs } from "./tar-listing.js";

/**
 * homelab's tar reader against archives the real tools on this machine write (see
 * tar-corpus.ts): for each, the members we read (names, types, logical sizes, link targets) must
 * be what GNU `tar -tv` and Python's tarfile report, the contents we capture (sparse files
 * expanded) must hash like Python's extraction, and the archive must pass box inspection.
 */

const have = { tar: needTool("tar"), bsdtar: needTool("bsdtar"), python3: needTool("python3") };
const tmp = tempDir("homelab-tar-corpus-");
let trees: Trees;

beforeAll(() => {
  trees = makeTrees(join(tmp.path, "trees"));
});
afterAll(tmp.cleanup);

describe.skipIf(!have.tar || !have.python3)("tar corpus written by real tools", () => {
  const specs = corpusSpecs().filter((s) => have[s.tool]);

  it.each(specs.map((s) => [s.name, s] as const))("reads %s like tar -tv and python tarfile", async (_name, spec) => {
    const file = join(tmp.path, spec.name);
    spec.make(file, trees);

    const ours = await readWithOurs(file);
    const strip = ours.entries.map(({ path, kind, size, link }) => ({ path, kind, size, link }));
    expect(strip).toEqual(gnuTarListing(file));
    const py = pythonListing(file);
    expect(strip).toEqual(py.entries);

    // Every file Python could hash (all but the 9 GiB sparse giant) we captured with the same bytes.
    expect(py.contents.size).toBeGreaterThan(0);
    for (const [path, sha] of py.contents) expect(ours.contents.get(path), path).toBe(sha);
    expect(ours.fileSha256).toBe(createHash("sha256").update(readFileSync(file)).digest("hex"));

    // What each tree holds, so a tool that silently dropped a feature cannot pass by agreeing.
    const paths = strip.map((e) => e.path);
    if (spec.partial) {
      expect(paths).toEqual(["metadata.json", "Vagrantfile", "sparse.raw", "box.img"]);
    } else if (spec.tree === "big") {
      expect(strip.find((e) => e.path === "big.raw")).toMatchObject({ kind: "file", size: 9 * 2 ** 30 });
    } else {
      expect(paths).toEqual(expect.arrayContaining(["metadata.json", "Vagrantfile", "sparse.raw", "all-hole.raw", "ünïcödé.txt", "dir/nested.txt"]));
      expect(strip.map((e) => e.kind)).toEqual(expect.arrayContaining(["symlink", "hardlink", "directory"]));
    }
    if (!spec.partial && (spec.tree === "full" || spec.tree === "ustar")) expect(paths).toContain(LONG_PATH);
    if (!spec.partial && spec.tree === "full") expect(strip.find((e) => e.path === "long-link")).toMatchObject({ kind: "symlink", link: LONG_PATH });
    // Holes really were stored as holes where the format can, and we expanded them back.
    const sparse = ours.entries.find((e) => e.path === (spec.tree === "big" ? "big.raw" : "sparse.raw"));
    expect(sparse?.sparse).toBe(spec.sparse);
    if (spec.sparse) expect(sparse!.storedSize).toBeLessThan(sparse!.size / 4);

    const info = await inspectBox(file);
    expect(info.metadata.provider).toBe("libvirt");
    expect(info.compression).toBe(spec.gzip ? "gzip" : "none");
    expect(info.entries).toBe(strip.length);
  });
});
