import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { quote, renderAttributes } from "../../src/bundle/hcl-render.js";
import { ref, template } from "../../src/bundle/hcl-value.js";
import { decodeJsonTemplate, parseHcl } from "../support/hcl.js";

async function roundTrip(value: string): Promise<string> {
  const parsed = await parseHcl("t.pkr.hcl", `locals {\n  v = ${quote(value)}\n}\n`);
  const locals = parsed.locals as Array<Record<string, string>>;
  return decodeJsonTemplate(locals[0]!.v!);
}

describe("HCL string escaping", () => {
  it.each([
    ['a "quoted" word'],
    ["back\\slash\\"],
    ["${var.secret}"],
    ["%{ if true }x%{ endif }"],
    ["$${already escaped}"],
    ["line one\nline two\r\n"],
    ["tab\there"],
    ['"; rm -rf / #'],
    ["\u0000nul and \u001b[31mescape"],
    ["emoji 🚀 and \u2028 separator"],
    ["trailing $"],
    ["{{ .HTTPIP }} stays a Packer template"],
  ])("keeps %j intact", async (value) => {
    expect(await roundTrip(value)).toBe(value);
  });

  it("round-trips arbitrary strings through render → parse unchanged", async () => {
    // Bias the alphabet towards the characters that matter to HCL's lexer.
    const tricky = fc.constantFrom("$", "%", "{", "}", '"', "\\", "\n", "\r", "\t", "\u0000", "~", "\u2028");
    const text = fc.oneof(
      fc.string({ unit: fc.oneof(tricky, fc.string({ minLength: 1, maxLength: 1 })), maxLength: 40 }),
      fc.string({ unit: "grapheme", maxLength: 40 }),
      fc.string({ unit: "binary", maxLength: 40 }),
    );
    await fc.assert(
      fc.asyncProperty(text, async (value) => {
        if (value.normalize("NFC") === value) expect(await roundTrip(value)).toBe(value);
        else expect(() => quote(value)).toThrow(/NFC/);
      }),
      { numRuns: 300 },
    );
  });

  it("refuses strings HCL would normalise rather than let them change", () => {
    // U+F900 is a compatibility ideograph: HCL would turn it into U+8C48.
    expect(() => quote("\uF900")).toThrow(/NFC/);
    expect(() => quote("e\u0301")).toThrow(/NFC/);
  });

  it("interpolates references only where the model asks for them", async () => {
    const text = renderAttributes([["v", template("${literal} ", ref("var.x"), " %{done}")]], 0);
    const parsed = await parseHcl("t.pkr.hcl", `locals {\n${text}\n}\n`);
    expect((parsed.locals as Array<Record<string, string>>)[0]!.v).toBe("$${literal} ${var.x} %%{done}");
  });

  it("refuses a literal sigil right before an interpolation (it would escape it)", () => {
    expect(() => renderAttributes([["v", template("cost: $", ref("var.x"))]], 0)).toThrow(/sigil/);
  });

  it("refuses anything but a traversal as a reference", () => {
    expect(() => ref('var.x} ${file("/etc/passwd")')).toThrow(/not an HCL traversal/);
  });
});
