/**
 * Values that can appear on the right of `=` in a Packer HCL2 file. Plain strings are always
 * literals (escaped on render); the only way to emit HCL syntax is `ref()` / `template()`,
 * which accept nothing but dotted identifiers, so a config value can never become code.
 */
export interface HclRef {
  readonly kind: "ref";
  /** A dotted traversal such as `var.disk_size` or `local.box_name`. */
  readonly path: string;
}

/** A string with interpolations: `template("K8S_VERSION=", ref("var.k8s_version"))`. */
export interface HclTemplate {
  readonly kind: "template";
  readonly parts: ReadonlyArray<string | HclRef>;
}

/**
 * One of two literal strings, chosen by Packer when it reads the file:
 * `var.accelerator == "tcg" ? "120s" : "30s"`. Only a traversal and string literals: no other
 * syntax can be emitted this way either.
 */
export interface HclChoice {
  readonly kind: "choice";
  readonly when: HclRef;
  readonly equals: string;
  readonly then: string;
  readonly otherwise: string;
}

export type HclValue =
  | string
  | number
  | boolean
  | HclRef
  | HclTemplate
  | HclChoice
  | readonly HclValue[]
  | { readonly [key: string]: HclValue };

const TRAVERSAL = /^[A-Za-z_][A-Za-z0-9_-]*(\.[A-Za-z_][A-Za-z0-9_-]*)*$/;

export function ref(path: string): HclRef {
  if (!TRAVERSAL.test(path)) throw new Error(`not an HCL traversal: ${JSON.stringify(path)}`);
  return { kind: "ref", path };
}

export function template(...parts: ReadonlyArray<string | HclRef>): HclTemplate {
  return { kind: "template", parts };
}

/** `when == equals ? then : otherwise`, e.g. a boot wait that depends on the accelerator. */
export function choice(when: HclRef, equals: string, then: string, otherwise: string): HclChoice {
  return { kind: "choice", when, equals, then, otherwise };
}

export function isChoice(v: unknown): v is HclChoice {
  return typeof v === "object" && v !== null && (v as HclChoice).kind === "choice";
}

export function isRef(v: unknown): v is HclRef {
  return typeof v === "object" && v !== null && (v as HclRef).kind === "ref" && typeof (v as HclRef).path === "string";
}

export function isTemplate(v: unknown): v is HclTemplate {
  return typeof v === "object" && v !== null && (v as HclTemplate).kind === "template";
}

/** A value, or an HCL reference to one (usually a variable). */
export type Val<T> = T | HclRef | HclTemplate | HclChoice;
