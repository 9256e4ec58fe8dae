import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Worker } from "node:worker_threads";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { starterConfig } from "../../src/config/starter.js";
import { Sentinel } from "../support/sentinel-file.js";

/**
 * Hostile config files, generated: alias bombs and dangling aliases, sizes around the limits,
 * deep nesting, foreign encodings, NUL bytes and broken UTF-8, and token soup. Each file is
 * loaded by the built loader in a worker with a deadline: every load must come back, either as a
 * valid config or as an exit-2 HomelabError whose every line is `file:line:col: ...` on one line.
 * A thrown TypeError/ReferenceError/RangeError, or a load that never returns, fails the test.
 * Several files point base.image at a sentinel outside the working root: loading must not touch it.
 */

const DEADLINE_MS = 60_000;
const SHA = `sha256:${"ab".repeat(32)}`;

type Outcome =
  | { kind: "config"; family: string }
  | { kind: "error"; homelab: boolean; name: string; exitCode: number; message: string; details: string[] };

let worker: Worker;
let work: string;
let sentinel: Sentinel;
let next = 0;
const tally = { tried: 0, configs: 0, refused: 0 };

beforeAll(() => {
  expect(Sentinel.readsAreVisible(), "reads must move the access time here (relatime)").toBe(true);
  sentinel = Sentinel.plant();
  work = mkdtempSync(join(tmpdir(), "homelab-hostile-yaml-"));
  worker = new Worker(new URL("./support/load-worker.mjs", import.meta.url));
});

afterAll(async () => {
  await worker?.terminate();
  sentinel.expectUntouched();
  sentinel.remove();
  rmSync(work, { recursive: true, force: true });
  // The figures for the closing note of the issue.
  console.log(`hostile YAML: ${tally.tried} tried, ${tally.configs} valid configs, ${tally.refused} refused with exit 2`);
});

/** Loads `bytes` as homelab.yaml in the worker; rejects if no answer comes within the deadline. */
function load(bytes: Uint8Array | string): Promise<Outcome> {
  const id = next++;
  const path = join(work, `case-${id}.yaml`);
  writeFileSync(path, bytes);
  return new Promise<Outcome>((resolve, reject) => {
    const timer = setTimeout(() => {
      worker.off("message", onMessage);
      // A hung worker is useless for the cases after this one: replace it.
      void worker.terminate();
      worker = new Worker(new URL("./support/load-worker.mjs", import.meta.url));
      reject(new Error(`loading ${path} did not return within ${DEADLINE_MS / 1000} s`));
    }, DEADLINE_MS);
    const onMessage = (msg: Outcome & { id: number }) => {
      if (msg.id !== id) return;
      clearTimeout(timer);
      worker.off("message", onMessage);
      rmSync(path, { force: true });
      resolve(msg);
    };
    worker.on("message", onMessage);
    worker.postMessage({ id, path });
  });
}

/** The contract: a config, or exit 2 with located, single-line messages. */
async function expectHeld(bytes: Uint8Array | string): Promise<Outcome> {
  const outcome = await load(bytes);
  tally.tried++;
  if (outcome.kind === "config") {
    tally.configs++;
    return outcome;
  }
  tally.refused++;
  expect(outcome, `${outcome.name}: ${outcome.message}`).toMatchObject({ homelab: true, exitCode: 2 });
  expect(outcome.details.length, outcome.message).toBeGreaterThan(0);
  for (const line of [outcome.message, ...outcome.details]) {
    expect(line).not.toMatch(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/);
  }
  for (const line of outcome.details.filter((l) => !l.startsWith("... and "))) {
    expect(line).toMatch(/^\/\S*case-\d+\.yaml:\d+:\d+: /);
  }
  return outcome;
}

const anchorName = fc.stringMatching(/^[a-z][a-z0-9]{0,5}$/);

/** Alias bombs: each level lists the previous one `width` times. */
const aliasBomb = fc.record({ levels: fc.integer({ min: 1, max: 10 }), width: fc.integer({ min: 1, max: 12 }), key: fc.constantFrom("org", "x", "providers") }).map(
  ({ levels, width, key }) => {
    const lines = [`l0: &l0 [${Array(width).fill('"lol"').join(", ")}]`];
    for (let i = 1; i < levels; i++) lines.push(`l${i}: &l${i} [${Array(width).fill(`*l${i - 1}`).join(", ")}]`);
    lines.push(`${key}: *l${levels - 1}`);
    return lines.join("\n") + "\n";
  },
);

/** Aliases before, without, or inside their anchors, as keys and as values. */
const danglingAlias = fc
  .tuple(anchorName, anchorName, fc.constantFrom("value", "key", "self", "forward", "merge"))
  .map(([a, b, shape]) => {
    switch (shape) {
      case "value":
        return `org: *${a}\n`;
      case "key":
        return `? *${a}\n: x\norg: &${b} acme\n`;
      case "self":
        return `org: &${a} [*${a}]\n`;
      case "forward":
        return `org: *${a}\nalpine: &${a} {arch: x86_64}\n`;
      default:
        return `base: &${a} {image: x}\n<<: *${a}\n`;
    }
  });

/** Nesting far beyond the limit and just around it, in every style YAML has. */
const deep = fc.tuple(fc.integer({ min: 1, max: 60_000 }), fc.constantFrom("flow-seq", "flow-map", "block-map", "block-seq", "compact", "keys")).map(
  ([depth, style]) => {
    switch (style) {
      case "flow-seq":
        return `org: ${"[".repeat(depth)}x${"]".repeat(depth)}\n`;
      case "flow-map":
        return `org: ${"{a: ".repeat(depth)}x${"}".repeat(depth)}\n`;
      case "block-map":
        return Array.from({ length: Math.min(depth, 1500) }, (_, i) => `${" ".repeat(i)}k${i}:`).join("\n") + " x\n";
      case "block-seq":
        return `org:\n${Array.from({ length: Math.min(depth, 1500) }, (_, i) => `${" ".repeat(i * 2)}-`).join("\n")} x\n`;
      case "compact":
        return `org:\n  ${"- ".repeat(depth)}x\n`;
      default:
        return `org: ${"? ".repeat(depth)}x\n`;
    }
  },
);

/** Sizes around the limits: lines, tokens, bytes, keys (duplicated or not). */
const big = fc
  .tuple(fc.integer({ min: 1, max: 140_000 }), fc.constantFrom("\n", "# comment\n", "   \n", "\r\n", "- a\n", "a,", "k: v\n", "unique", "x".repeat(1000)))
  .map(([n, unit]) => {
    if (unit === "unique") return Array.from({ length: Math.min(n, 50_000) }, (_, i) => `k${i}: ${i}`).join("\n") + "\n";
    if (unit === "a,") return `providers: [${unit.repeat(n)}libvirt]\n`;
    if (unit === "- a\n") return `providers:\n${unit.repeat(n)}`;
    if (unit.length === 1000) return `org: "${unit.repeat(Math.min(n, 1100))}"\n`;
    return `${unit.repeat(n)}org: acme\n`;
  });

/** A config text (often valid, sometimes pointing base.image at the sentinel) in a hostile encoding. */
const encoded = fc
  .tuple(
    fc.constantFrom("starter", "sentinel", "plain"),
    fc.constantFrom("utf16le-bom", "utf16be-bom", "utf16le-nobom", "utf32", "utf8-bom", "nul", "invalid-utf8", "overlong", "surrogate", "truncated", "c1", "esc"),
    fc.nat(),
  )
  .map(([which, encoding, at]) => {
    const text =
      which === "starter" ? starterConfig() : which === "sentinel" ? `base:\n  image: ${sentinel.path}\n  checksum: ${SHA}\n` : "org: acme\nproviders: [libvirt]\n";
    const utf8 = Buffer.from(text, "utf8");
    const pos = at % (utf8.length + 1);
    const splice = (bytes: number[]) => Buffer.concat([utf8.subarray(0, pos), Buffer.from(bytes), utf8.subarray(pos)]);
    switch (encoding) {
      case "utf16le-bom":
        return Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(text, "utf16le")]);
      case "utf16be-bom":
        return Buffer.concat([Buffer.from([0xfe, 0xff]), Buffer.from(text, "utf16le").swap16()]);
      case "utf16le-nobom":
        return Buffer.from(text, "utf16le");
      case "utf32":
        return Buffer.concat([Buffer.from([0xff, 0xfe, 0, 0]), ...[...text].map((c) => { const b = Buffer.alloc(4); b.writeUInt32LE(c.codePointAt(0)!); return b; })]);
      case "utf8-bom":
        return Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), utf8]);
      case "nul":
        return splice([0]);
      case "invalid-utf8":
        return splice([0xff]);
      case "overlong":
        return splice([0xc0, 0x80]);
      case "surrogate":
        return splice([0xed, 0xa0, 0x80]);
      case "truncated":
        return splice([0xe2, 0x82]);
      case "c1":
        return splice([0xc2, 0x9b]);
      default:
        return splice([0x1b, 0x5b, 0x32, 0x4a]);
    }
  });

/** Token soup: every YAML indicator, directives, tags, anchors, odd keys. */
const soup = fc
  .array(
    fc.constantFrom(
      "[", "]", "{", "}", ":", ": ", "- ", "? ", ",", "&a ", "*a", "&b ", "*b", "!!str ", "!!binary ", "!custom ", "!!map ", "%YAML 1.2\n", "%TAG ! tag:x:\n",
      "---\n", "...\n", "\n", "  ", "\t", "# c", '"', "'", "|\n", ">-\n", "org", "alpine", "version", "3.24.2", "__proto__", "constructor", "<<", "~", "null",
      "1e999", "0x1F", ".nan", "\\", "${x}", "%{x}", "\u2028", "\ufeff", "é", "e\u0301", "😀",
    ),
    { maxLength: 80 },
  )
  .map((tokens) => tokens.join(""));

/** Any code points (controls, separators, lone surrogates) spliced into a valid config. */
const spliced = fc.tuple(fc.string({ unit: "binary", maxLength: 30 }), fc.nat()).map(([insert, at]) => {
  const text = starterConfig();
  const pos = at % (text.length + 1);
  return text.slice(0, pos) + insert + text.slice(pos);
});

describe("hostile YAML: every load returns, as a config or as exit 2 with file:line:col", () => {
  it.each([
    ["alias bombs", aliasBomb, 60],
    ["dangling and self aliases", danglingAlias, 60],
    ["deep nesting", deep, 60],
    ["sizes around the limits", big, 24],
    ["foreign encodings, NUL and broken UTF-8", encoded, 120],
    ["token soup", soup, 300],
    ["any characters spliced into a valid config", spliced, 200],
  ] as const)("%s", async (_name, arbitrary, numRuns) => {
    await fc.assert(
      fc.asyncProperty(arbitrary as fc.Arbitrary<string | Buffer>, async (input) => {
        await expectHeld(input);
      }),
      { numRuns, endOnFailure: true },
    );
  }, 600_000);

  it("the classic attacks, named: each is refused at its place, and the loader reads nothing else", async () => {
    const bomb = await expectHeld(
      'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\norg: [*d,*d,*d,*d,*d,*d,*d,*d,*d]\n',
    );
    expect(bomb.kind === "error" && bomb.details[0]).toMatch(/:2:8: invalid YAML: the aliases expand to more than 100 times/);
    const cycle = await expectHeld("org: &x [*x]\n");
    expect(cycle.kind === "error" && cycle.details[0]).toMatch(/:1:10: invalid YAML: alias \*x is inside the node it names/);
    const dangling = await expectHeld("org: *nope\n");
    expect(dangling.kind === "error" && dangling.details[0]).toMatch(/:1:6: invalid YAML: alias \*nope has no anchor/);
    const blank = await expectHeld(Buffer.alloc(10 << 20, 0x0a));
    expect(blank.kind === "error" && blank.details[0]).toMatch(/:1:1: the config is larger than 1024 KiB/);
    const utf16 = await expectHeld(Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from("org: acme\n", "utf16le")]));
    expect(utf16.kind === "error" && utf16.details[0]).toMatch(/:1:1: the file is UTF-16 \(little-endian\)/);
    const badUtf8 = await expectHeld(Buffer.from([...Buffer.from("org: acme\nk8s:\n  ver"), 0xc3, 0x28]));
    expect(badUtf8.kind === "error" && badUtf8.details[0]).toMatch(/:3:6: not valid UTF-8 \(byte 0xc3\)/);
    const nul = await expectHeld("org: acme\n# \u0000\n");
    expect(nul.kind === "error" && nul.details[0]).toMatch(/:2:3: invalid YAML: control character U\+0000/);
    const esc = await expectHeld('"\u001b]0;owned\u0007": 1\n');
    expect(esc.kind === "error" && esc.details[0]).toMatch(/:1:2: invalid YAML: control character U\+001B/);
    const escapedKey = await expectHeld('"\\e[2J\\nx": 1\n');
    expect(escapedKey.kind === "error" && escapedKey.details[0]).toMatch(/:1:1: "\\u001b\[2J\\nx": unknown key/);
    const dup = await expectHeld("vm: {cpus: 2, memoryMiB: 2048, cpus: 4}\n");
    expect(dup.kind === "error" && dup.details[0]).toMatch(/:1:32: invalid YAML: map keys must be unique \("cpus" is also on line 1\)/);
    const keys = await expectHeld(Array.from({ length: 40_000 }, (_, i) => `k${i}: 1`).join("\n"));
    expect(keys.kind === "error" && keys.message).toMatch(/40000 problems/);
    expect(keys.kind === "error" && keys.details.at(-1)).toBe("... and 39900 more");
    const sentinelImage = await expectHeld(`base:\n  image: ${sentinel.path}\n  checksum: ${SHA}\n`);
    expect(sentinelImage.kind).toBe("config");
  }, 600_000);
});
