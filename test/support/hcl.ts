import { parse } from "@cdktf/hcl2json";
import { isChoice, isRef, isTemplate, type HclValue } from "../../src/bundle/hcl-value.js";

/** Parses HCL2 text with HashiCorp's own parser (compiled to wasm) into HCL's JSON syntax. */
export async function parseHcl(name: string, text: string): Promise<Record<string, unknown>> {
  return (await parse(name, text)) as Record<string, unknown>;
}

/**
 * hcl2json answers in HCL's JSON syntax, where every string is a template: a literal `${` or
 * `%{` is written `$${` / `%%{`. This decodes such a string to the value it denotes.
 */
export function decodeJsonTemplate(s: string): string {
  return s.replace(/([$%])\1\{/g, "$1{");
}

/** What hcl2json gives back for a model value (HCL JSON syntax, as above). */
export function expectedJson(value: HclValue): unknown {
  if (typeof value === "string") return encodeLiteral(value);
  if (typeof value === "number" || typeof value === "boolean") return value;
  if (isRef(value)) return `\${${value.path}}`;
  if (isChoice(value)) return `\${${value.when.path} == "${value.equals}" ? "${value.then}" : "${value.otherwise}"}`;
  if (isTemplate(value)) return value.parts.map((p) => (typeof p === "string" ? encodeLiteral(p) : `\${${p.path}}`)).join("");
  if (Array.isArray(value)) return value.map((v) => expectedJson(v as HclValue));
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, expectedJson(v as HclValue)]));
}

function encodeLiteral(s: string): string {
  return s.replace(/([$%])\{/g, "$1$1{");
}
