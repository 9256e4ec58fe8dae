import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { applyPinEdits } from "../../src/versions/yaml-edit.js";

/**
 * Generated configs with comments in every place YAML allows them, blank lines, 2- or 4-space
 * indentation, LF or CRLF line breaks, any quoting of the pins and arbitrary comment text: after the edit,
 * the whole text must equal the generator's own rendering with the new values.
 */
const comment = fc.stringMatching(/^[A-Za-z0-9 .,:;'"!?()\-_/#]{0,30}$/).map((s) => `# ${s}`);
const maybe = <T>(arb: fc.Arbitrary<T>) => fc.option(arb, { nil: undefined });
const quoteStyle = fc.constantFrom("", '"', "'");

const configArb = fc.record({
  indent: fc.constantFrom(2, 3, 4),
  header: fc.array(comment, { maxLength: 3 }),
  beforeAlpine: fc.array(fc.oneof(comment, fc.constant("")), { maxLength: 3 }),
  versionComment: maybe(comment),
  versionQuote: quoteStyle,
  commentAboveVersion: maybe(comment),
  hasChecksum: fc.boolean(),
  checksumComment: maybe(comment),
  k8sQuote: quoteStyle,
  k8sComment: maybe(comment),
  hasK8sVersion: fc.boolean(),
  distComment: maybe(comment),
  footer: fc.array(comment, { maxLength: 2 }),
  finalNewline: fc.boolean(),
  crlf: fc.boolean(),
});

type Shape = typeof configArb extends fc.Arbitrary<infer T> ? T : never;
const OLD_SUM = `sha256:${"1".repeat(64)}`;
const NEW_SUM = `sha256:${"2".repeat(64)}`;

function render(c: Shape, v: { alpine: string; sum: string; k8s: string }, inserted: boolean): string {
  const pad = " ".repeat(c.indent);
  const tail = (s: string | undefined) => (s === undefined ? "" : `  ${s}`);
  const lines = [...c.header, "org: lab", ...c.beforeAlpine, "alpine:"];
  if (c.commentAboveVersion) lines.push(pad + c.commentAboveVersion);
  lines.push(`${pad}version: ${c.versionQuote}${v.alpine}${c.versionQuote}${tail(c.versionComment)}`);
  if (c.hasChecksum) lines.push(`${pad}isoChecksum: ${v.sum}${tail(c.checksumComment)}`);
  else if (inserted) lines.push(`${pad}isoChecksum: ${v.sum}`);
  lines.push(`${pad}arch: x86_64`, "", "k8s:", `${pad}distribution: kubeadm${tail(c.distComment)}`);
  if (c.hasK8sVersion) lines.push(`${pad}version: ${c.k8sQuote}${v.k8s}${c.k8sQuote}${tail(c.k8sComment)}`);
  else if (inserted) lines.push(`${pad}version: ${v.k8s}`);
  lines.push(`${pad}bake: airgap`, ...c.footer);
  const nl = c.crlf ? "\r\n" : "\n";
  return lines.join(nl) + (c.finalNewline ? nl : "");
}

describe("applyPinEdits on generated configs", () => {
  it("changes exactly the pinned values and the lines it adds; every other byte stays", () => {
    fc.assert(
      fc.property(configArb, (c) => {
        const before = render(c, { alpine: "3.24.1", sum: OLD_SUM, k8s: "v1.34.2" }, false);
        const after = applyPinEdits(before, [
          { section: "alpine", key: "version", value: "3.24.2" },
          { section: "alpine", key: "isoChecksum", value: NEW_SUM, after: "version" },
          { section: "k8s", key: "version", value: "v1.35.1", after: "distribution" },
        ]);
        expect(after).toBe(render(c, { alpine: "3.24.2", sum: NEW_SUM, k8s: "v1.35.1" }, true));
      }),
      { numRuns: 300 },
    );
  });
});
