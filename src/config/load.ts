import { basename, dirname, resolve as resolvePath } from "node:path";
import { LineCounter, parseDocument, visit, type Document } from "yaml";
import type { z } from "zod";
import { InputError } from "../errors.js";
import { readRegularFile, ReadRefusedError } from "../fs/read-regular.js";
import { checkConfigText, decodeConfigBytes, escapeInvisible, MAX_CONFIG_BYTES, positionOf, quoteVisibly } from "./config-text.js";
import { containerdSupports, supportedContainerd } from "./containerd-support.js";
import { DEFAULTS, KNOWN_ALPINE_ISO_SHA256, KNOWN_CONTAINERD_SHA256, KNOWN_RUNC_SHA256, PAUSE_IMAGE_BY_MINOR } from "./defaults.js";
import { didYouMean } from "./did-you-mean.js";
import { archOf, osFamily } from "../os/index.js";
import { checkDocument, checkStructure, MAX_ALIAS_EXPANSION } from "./document-checks.js";
import { compareVersions } from "../semver.js";
import { configSchema, type Config, type ReleasePin } from "./schema.js";
import { clusterProblems } from "./cluster-checks.js";
import { SourceMap } from "./source-map.js";

/** One problem in a config file, already located. */
export interface ConfigProblem {
  line: number;
  col: number;
  path: string;
  message: string;
}

/** More located lines than anyone reads; the rest is counted, not printed. */
const MAX_PRINTED_PROBLEMS = 100;

export class ConfigError extends InputError {
  readonly problems: readonly ConfigProblem[];
  constructor(file: string, problems: readonly ConfigProblem[]) {
    const lines = problems
      .slice(0, MAX_PRINTED_PROBLEMS)
      .map((p) => `${file}:${p.line}:${p.col}: ${p.path ? `${p.path}: ` : ""}${p.message}`);
    if (problems.length > MAX_PRINTED_PROBLEMS) lines.push(`... and ${problems.length - MAX_PRINTED_PROBLEMS} more`);
    super(`${file}: ${problems.length} problem${problems.length === 1 ? "" : "s"} in the config`, { details: lines });
    this.problems = problems;
  }
}

/**
 * A file name as messages show it: as is when it is printable, else JSON-quoted, so a directory
 * named with a newline or an ESC cannot split a message or drive the terminal.
 */
export function printablePath(path: string): string {
  return /^[^\p{Cc}\p{Cf}\p{Zl}\p{Zp}]*$/u.test(path) ? path : quoteVisibly(path);
}


/** Reads and validates a homelab.yaml. Throws ConfigError (exit 2) listing every problem at once. */
export async function loadConfig(path: string): Promise<Config> {
  return parseConfig(await readConfigText(path), path);
}

/**
 * The text of a config file: a regular file of at most MAX_CONFIG_BYTES, in UTF-8. Anything else
 * (a directory, a FIFO, a device, UTF-16, broken UTF-8) is a located ConfigError; a missing or
 * unreadable file an InputError. Never blocks on a FIFO, never reads more than the limit.
 */
export async function readConfigText(path: string): Promise<string> {
  const display = printablePath(path);
  let bytes: Buffer;
  try {
    bytes = await readRegularFile(path, MAX_CONFIG_BYTES);
  } catch (err) {
    if (err instanceof ReadRefusedError) {
      const message =
        err.refusal.kind === "too-large"
          ? `the config is larger than ${MAX_CONFIG_BYTES / 1024} KiB (a homelab.yaml is a few KiB)`
          : `${err.refusal.what}, expected a YAML file`;
      throw new ConfigError(display, [{ line: 1, col: 1, path: "", message }]);
    }
    const code = (err as NodeJS.ErrnoException).code;
    throw new InputError(
      code === "ENOENT"
        ? `${display}: no such file (run \`homelab init\` to write a starter config)`
        : `${display}: cannot read: ${code ?? String(err)}`,
    );
  }
  const decoded = decodeConfigBytes(bytes);
  if ("problem" in decoded) throw new ConfigError(display, [decoded.problem]);
  return decoded.text;
}

/** Validates config text. `file` is only used in messages (and to resolve a relative base.image). */
export function parseConfig(text: string, file = "homelab.yaml"): Config {
  const display = printablePath(file.includes("/") ? file : basename(file));
  const textProblem = checkConfigText(text);
  if (textProblem !== undefined) throw new ConfigError(display, [textProblem]);
  const tooBig = checkStructure(text);
  if (tooBig !== undefined) {
    throw new ConfigError(display, [{ ...positionOf(text, tooBig.offset), path: "", message: `invalid YAML: ${tooBig.message}` }]);
  }
  const lines = new LineCounter();
  // uniqueKeys is checked by checkDocument, in linear time.
  const doc = withoutStackTraces(() => parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: false }));
  if (doc.errors.length > 0) {
    throw new ConfigError(
      display,
      doc.errors.map((e) => {
        const pos = lines.linePos(e.pos[0]);
        return { line: Math.max(pos.line, 1), col: pos.col, path: "", message: `invalid YAML: ${firstLine(e.message)}` };
      }),
    );
  }
  const shapeProblems = checkDocument(doc, lines);
  if (shapeProblems.length > 0) throw new ConfigError(display, shapeProblems);
  let data: unknown;
  try {
    // maxAliasCount bounds how much the aliases may expand (a "billion laughs" file).
    data = doc.toJS({ maxAliasCount: MAX_ALIAS_EXPANSION });
  } catch (err) {
    const pos = lines.linePos(firstAliasOffset(doc) ?? doc.contents?.range?.[0] ?? 0);
    const reason = err instanceof Error ? firstLine(err.message) : String(err);
    const message = /alias count/i.test(reason)
      ? `invalid YAML: the aliases expand to more than ${MAX_ALIAS_EXPANSION} times their anchors (an alias bomb?)`
      : `invalid YAML: ${reason}`;
    throw new ConfigError(display, [{ line: Math.max(pos.line, 1), col: pos.col, path: "", message }]);
  }
  if (data === null || data === undefined) {
    throw new ConfigError(display, [
      { line: 1, col: 1, path: "", message: "expected a mapping with the homelab config, got an empty file" },
    ]);
  }
  const map = new SourceMap(doc, lines);
  const result = configSchema.safeParse(data, { reportInput: true });
  if (!result.success) {
    // Every problem at once: the rules that need resolved values run too, where the raw input
    // allows them (a missing ISO checksum must not wait for a box.version fix).
    const problems = [...result.error.issues.flatMap((i) => describeIssue(i, map)), ...rawAlpineProblems(data, map)];
    throw new ConfigError(display, sortProblems(dedupeProblems(problems)));
  }
  return resolve(result.data, map, display, {
    hasAlpine: hasKey(data, "alpine"),
    hasDebianMirror: hasKey(data, "debian") && hasKey((data as Record<string, unknown>).debian, "mirror"),
    baseDir: dirname(resolvePath(file)),
  });
}

/** Fills in what depends on other fields: the ISO checksum and the Kubernetes version. */
function resolve(
  parsed: z.output<typeof configSchema>,
  map: SourceMap,
  file: string,
  source: { hasAlpine: boolean; hasDebianMirror: boolean; baseDir: string },
): Config {
  const { alpine, debian, k8s, base, ...rest } = parsed;
  // The one place the family is decided: a debian section makes a Debian image.
  const config: Config = debian === undefined ? { ...rest, family: "alpine", alpine: resolveAlpine(alpine, map, file) } : { ...rest, family: "debian", debian };
  if (debian !== undefined && source.hasAlpine) {
    throw new ConfigError(file, [
      { ...map.locate(["debian"]), path: "debian", message: "expected either an alpine or a debian section, got both" },
    ]);
  }
  if (base !== undefined) {
    // A relative image path is relative to homelab.yaml, not to wherever homelab runs.
    const isUrl = /^https?:\/\//.test(base.image);
    const image = isUrl ? base.image : resolvePath(source.baseDir, base.image);
    const unfit = isUrl ? undefined : unfitLocalPath(image);
    if (unfit !== undefined) {
      throw new ConfigError(file, [
        {
          ...map.locate(["base", "image"]),
          path: "base.image",
          message:
            `expected a local path Packer can use, got ${truncate(quoteVisibly(image))} (relative paths start at the ` +
            `config's directory), which ${unfit}: rename the directory or give base.image as an absolute path`,
        },
      ]);
    }
    config.base = { ...base, image };
  }
  const problems: ConfigProblem[] = [];
  if (k8s !== undefined) {
    config.k8s = {
      distribution: k8s.distribution,
      bake: k8s.bake,
      version: k8s.version ?? DEFAULTS.k8s[k8s.distribution],
      cni: k8s.distribution === "kubeadm" ? (k8s.cni ?? "flannel") : "none",
      bootCheck: k8s.bootCheck ?? k8s.bake === "airgap",
    };
    if (k8s.distribution === "k3s" && k8s.cni !== undefined) {
      problems.push({ ...map.locate(["k8s", "cni"]), path: "k8s.cni", message: `expected no k8s.cni with distribution k3s (k3s brings its own flannel), got ${JSON.stringify(k8s.cni)}` });
    }
    if (k8s.bootCheck === true && k8s.bake !== "airgap") {
      problems.push({
        ...map.locate(["k8s", "bootCheck"]),
        path: "k8s.bootCheck",
        message: `expected bake airgap for the boot check (it boots Kubernetes offline from the baked images), got bake ${k8s.bake}`,
      });
    }
    problems.push(...resolveRuntime(config, k8s, map));
  }
  problems.push(...crossCheck(config, map, source));
  if (problems.length > 0) throw new ConfigError(file, problems);
  return config;
}

type RawK8s = NonNullable<z.output<typeof configSchema>["k8s"]>;

/**
 * The containerd and runc a Debian kubeadm node installs (upstream releases, pinned with their
 * sha256), checked against containerd's Kubernetes support table. Other nodes keep their
 * distribution's runtime, and a pin there would be silently ignored: it is refused.
 */
function resolveRuntime(config: Config, k8s: RawK8s, map: SourceMap): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  if (config.family !== "debian" || k8s.distribution !== "kubeadm") {
    for (const key of ["containerd", "runc"] as const) {
      if (k8s[key] === undefined) continue;
      const runs = k8s.distribution === "k3s" ? "k3s runs its embedded containerd" : "Alpine nodes run Alpine's packaged containerd and runc";
      problems.push({ ...map.locate(["k8s", key]), path: `k8s.${key}`, message: `expected no ${key} pin here: only Debian kubeadm nodes install upstream releases (${runs})` });
    }
    return problems;
  }
  const arch = config.debian.arch;
  const minor = Number(/^v1\.(\d+)\./.exec(config.k8s!.version)?.[1]);
  const pin = (key: "containerd" | "runc", known: Readonly<Record<string, string>>, file: (v: string) => string): ReleasePin | undefined => {
    const given = k8s[key];
    const version = given?.version ?? (key === "containerd" ? defaultContainerd(arch, minor) : DEFAULTS.runc.version);
    const sha = given?.sha256?.slice("sha256:".length) ?? known[`${version}/${arch}`];
    if (sha === undefined) {
      problems.push({
        ...map.locate(["k8s", key, "version"]),
        path: `k8s.${key}.sha256`,
        message: `expected the sha256 of ${file(version)} (homelab has no checksum for ${key} ${version} on ${arch}): set k8s.${key}.sha256: sha256:<hex>`,
      });
      return undefined;
    }
    return { version, sha256: sha, url: (given?.url ?? DEFAULTS[key].url).replace(/\/+$/, "") };
  };
  const goarch = arch === "x86_64" ? "amd64" : "arm64";
  const containerd = pin("containerd", KNOWN_CONTAINERD_SHA256, (v) => `containerd-${v}-linux-${goarch}.tar.gz`);
  const runc = pin("runc", KNOWN_RUNC_SHA256, () => `runc.${goarch}`);
  if (containerd !== undefined && !containerdSupports(containerd.version, minor)) {
    const range = supportedContainerd(minor);
    const given = k8s.containerd?.version !== undefined;
    problems.push({
      ...map.locate(given ? ["k8s", "containerd", "version"] : k8s.version !== undefined ? ["k8s", "version"] : ["k8s"]),
      path: given ? "k8s.containerd.version" : "k8s.version",
      message:
        `expected a containerd release that containerd recommends for Kubernetes 1.${minor}, got containerd ${containerd.version}` +
        `${given ? "" : " (homelab's default)"} with k8s.version ${config.k8s!.version}: ` +
        (range === undefined
          ? `containerd's RELEASES.md lists no containerd release for Kubernetes 1.${minor} yet`
          : `containerd's RELEASES.md recommends ${range} for 1.${minor}`),
    });
  }
  if (containerd !== undefined && runc !== undefined) config.k8s!.runtime = { containerd, runc };
  return problems;
}

/** The newest containerd homelab has a checksum for that the table recommends for the minor (else the default). */
function defaultContainerd(arch: string, minor: number): string {
  const fitting = Object.keys(KNOWN_CONTAINERD_SHA256)
    .map((key) => key.split("/") as [string, string])
    .filter(([version, a]) => a === arch && containerdSupports(version, minor))
    .map(([version]) => version)
    .sort((a, b) => compareVersions(b, a));
  return fitting[0] ?? DEFAULTS.containerd.version;
}

/** The Alpine pins with the ISO checksum: given, or known to homelab for that release. */
function resolveAlpine(alpine: z.output<typeof configSchema>["alpine"], map: SourceMap, file: string) {
  const known = KNOWN_ALPINE_ISO_SHA256[`${alpine.version}/${alpine.arch}`];
  const isoChecksum = alpine.isoChecksum ?? (known === undefined ? undefined : `sha256:${known}`);
  if (isoChecksum === undefined) {
    const pos = map.locate(["alpine", "version"]);
    throw new ConfigError(file, [
      {
        ...pos,
        path: "alpine.isoChecksum",
        message:
          `expected the sha256 of alpine-virt-${alpine.version}-${alpine.arch}.iso (homelab has no checksum for ` +
          "that release): set alpine.isoChecksum: sha256:<hex>, or run `homelab versions bump`",
      },
    ]);
  }
  return { ...alpine, isoChecksum };
}

/**
 * Why an absolute image path cannot go into the bundle, if it cannot. HCL rewrites non-NFC
 * strings (the path would name another file); Packer parses iso_url as a URL, so `%` is
 * unescaped and `?`/`#` start a query or a fragment; control characters never belong in a path.
 * The config's own checks cannot see these: they come from the directory homelab.yaml is in.
 */
function unfitLocalPath(path: string): string | undefined {
  if (path.normalize("NFC") !== path) return "is not in Unicode NFC form (HCL would change it to another path)";
  const bad = /[%?#]|[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/u.exec(path);
  if (bad === null) return undefined;
  return /[%?#]/.test(bad[0])
    ? `contains ${JSON.stringify(bad[0])} (Packer reads iso_url as a URL)`
    : `contains the control character ${quoteVisibly(bad[0])}`;
}

/** Rules that span fields and need the resolved values. */
function crossCheck(config: Config, map: SourceMap, source: { hasDebianMirror: boolean }): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  if (config.base !== undefined && config.providers.includes("virtualbox")) {
    problems.push({
      ...map.locate(["providers"]),
      path: "providers",
      message: "expected libvirt only with base.image (a qcow2 image cannot be a VirtualBox source), got virtualbox",
    });
  }
  const os = osFamily(config);
  if (os.installSource === undefined) {
    problems.push({
      ...map.locate([config.family, "arch"]),
      path: "base.image",
      message: `expected a base image for ${os.displayName} on ${os.arch} (${os.noInstaller ?? "no installer"}): set base.image and base.checksum`,
    });
  }
  if (config.base !== undefined && source.hasDebianMirror) {
    problems.push({
      ...map.locate(["debian", "mirror"]),
      path: "debian.mirror",
      message: "expected no debian.mirror with base.image (the mirror is the installer's; a base image keeps its own apt sources)",
    });
  }
  if (archOf(config) === "aarch64" && config.providers.includes("virtualbox")) {
    problems.push({
      ...map.locate(["providers"]),
      path: "providers",
      message: "expected libvirt only for arch aarch64 (VirtualBox cannot run aarch64 guests), got virtualbox",
    });
  }
  if (config.k8s?.distribution === "kubeadm") {
    const minor = Number(/^v1\.(\d+)\./.exec(config.k8s.version)?.[1]);
    if (PAUSE_IMAGE_BY_MINOR[minor] === undefined) {
      const known = Object.keys(PAUSE_IMAGE_BY_MINOR).map(Number);
      problems.push({
        ...map.locate(["k8s", "version"]),
        path: "k8s.version",
        message: `expected a Kubernetes minor from 1.${Math.min(...known)} to 1.${Math.max(...known)}, got ${JSON.stringify(config.k8s.version)}`,
      });
    }
  }
  problems.push(...clusterProblems(config, map));
  return problems;
}

type Issue = z.core.$ZodIssue;

function describeIssue(issue: Issue, map: SourceMap): ConfigProblem[] {
  const path = issue.path.map(String).join(".");
  if (issue.code === "unrecognized_keys") {
    const known = knownKeysAt(issue.path);
    return issue.keys.map((key) => {
      const hint = didYouMean(key, known);
      return {
        ...map.locate(issue.path, { key }),
        path: path ? `${path}.${showKey(key)}` : showKey(key),
        message: `unknown key${hint ? `, did you mean "${hint}"?` : ""} (expected one of: ${known.join(", ")})`,
      };
    });
  }
  if (issue.code === "invalid_union") {
    return [{ ...map.locate(issue.path), path, message: `${issue.message}, got ${show(issue.input)}` }];
  }
  return [{ ...map.locate(issue.path), path, message: `${expected(issue)}, got ${show(issue.input)}${hint(issue, path)}` }];
}

/** Names people use for the architectures homelab spells another way. */
const ARCH_ALIASES: Record<string, string> = { arm64: "aarch64", armv8: "aarch64", amd64: "x86_64", x64: "x86_64", x86: "x86_64" };

/** What to write instead, where the found value tells (YAML numbers, near-misses, other names). */
function hint(issue: Issue, path: string): string {
  const input = issue.input;
  if (issue.code === "invalid_type" && issue.expected === "string" && typeof input === "number") {
    const example = path === "alpine.version" ? `a point release such as "${DEFAULTS.alpine.version}"` : `"${String(input)}"`;
    return ` (YAML reads an unquoted ${String(input)} as a number: write ${example}, in quotes)`;
  }
  if (issue.code === "invalid_value" && typeof input === "string") {
    const values = issue.values.filter((v): v is string => typeof v === "string");
    const alias = ARCH_ALIASES[input.toLowerCase()];
    const suggestion = alias !== undefined && values.includes(alias) ? alias : didYouMean(input, values);
    if (suggestion !== undefined && suggestion !== input) return `; did you mean "${suggestion}"?`;
  }
  return "";
}

/** "a whole number of at least 1", "at most 64 characters", … from a zod bound. */
function boundText(origin: string, side: "at least" | "at most", bound: number | bigint | Date, inclusive: boolean | undefined): string {
  const n = Number(bound);
  const strict = inclusive === false;
  const value = strict ? `${side === "at least" ? "more than" : "less than"} ${n}` : `${side} ${n}`;
  if (origin === "string") return `a string of ${value} characters`;
  if (origin === "array" || origin === "set") return `a list of ${value} items`;
  return `a number ${value}`;
}

/** The same place and message reported twice (a union reports per branch) is said once. */
function dedupeProblems(problems: ConfigProblem[]): ConfigProblem[] {
  const seen = new Set<string>();
  return problems.filter((p) => {
    const key = `${p.line}:${p.col}:${p.path}:${p.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/**
 * The ISO checksum rule on the raw input, for when other fields failed the schema: a valid
 * alpine.version homelab has no checksum for, with none given, is a problem to report now.
 */
function rawAlpineProblems(data: unknown, map: SourceMap): ConfigProblem[] {
  if (!hasKey(data, "alpine") || hasKey(data, "debian")) return [];
  const alpine = (data as Record<string, unknown>).alpine;
  if (typeof alpine !== "object" || alpine === null) return [];
  const { version, arch = "x86_64", isoChecksum } = alpine as Record<string, unknown>;
  if (isoChecksum !== undefined || typeof version !== "string" || typeof arch !== "string") return [];
  if (!/^\d+\.\d+\.\d+$/.test(version) || KNOWN_ALPINE_ISO_SHA256[`${version}/${arch}`] !== undefined) return [];
  return [
    {
      ...map.locate(["alpine", "version"]),
      path: "alpine.isoChecksum",
      message:
        `expected the sha256 of alpine-virt-${version}-${arch}.iso (homelab has no checksum for ` +
        "that release): set alpine.isoChecksum: sha256:<hex>, or run `homelab versions bump`",
    },
  ];
}

function expected(issue: Issue): string {
  switch (issue.code) {
    case "invalid_type":
      return `expected ${article(issue.expected)}`;
    case "invalid_value":
      return `expected one of ${issue.values.map((v) => JSON.stringify(v)).join(" | ")}`;
    // zod's own wording ("Too small: expected number to be >=1") reads badly after "expected";
    // a message the schema gives itself is kept.
    case "too_small":
      if (!/^Too small/.test(issue.message)) return `expected ${issue.message}`;
      return `expected ${boundText(issue.origin, "at least", issue.minimum, issue.inclusive)}`;
    case "too_big":
      if (!/^Too big/.test(issue.message)) return `expected ${issue.message}`;
      return `expected ${boundText(issue.origin, "at most", issue.maximum, issue.inclusive)}`;
    case "invalid_format":
    case "custom":
      return issue.message.startsWith("expected") ? issue.message : `expected ${issue.message}`;
    default:
      return `expected a valid value (${issue.message})`;
  }
}

function article(type: string): string {
  const named: Record<string, string> = { object: "a mapping", array: "a list", string: "a string", number: "a number", int: "a whole number", boolean: "true or false" };
  return named[type] ?? type;
}

/** Renders a found value on one line: strings JSON-quoted so newlines and quotes stay visible. */
function show(value: unknown): string {
  if (value === undefined) return "nothing (the field is missing)";
  if (value === null) return "null";
  if (Array.isArray(value)) return `a list ${truncate(quoteList(value))}`;
  if (typeof value === "object") return "a mapping";
  if (typeof value === "string") return truncate(quoteVisibly(value));
  return `${typeof value} ${String(value)}`;
}

/** A key as it appears in a message: plain keys as they are, anything else quoted and cut short. */
function showKey(key: string): string {
  return /^[A-Za-z0-9_-]{1,64}$/.test(key) ? key : truncate(quoteVisibly(key));
}

/** A list on one line, its strings quoted visibly (nested lists and mappings summarised). */
function quoteList(items: readonly unknown[]): string {
  const shown = items.slice(0, 20).map((v) =>
    typeof v === "string" ? quoteVisibly(v) : Array.isArray(v) ? "[...]" : typeof v === "object" && v !== null ? "{...}" : String(v),
  );
  return `[${shown.join(",")}${items.length > 20 ? ",..." : ""}]`;
}

function truncate(s: string): string {
  return s.length > 80 ? `${s.slice(0, 77)}...` : s;
}

/** The first line of a message from the YAML parser, with anything invisible it quotes escaped. */
function firstLine(s: string): string {
  return escapeInvisible(s.split("\n")[0] ?? s);
}

function sortProblems(problems: ConfigProblem[]): ConfigProblem[] {
  return problems.sort((a, b) => a.line - b.line || a.col - b.col);
}

function knownKeysAt(path: readonly PropertyKey[]): string[] {
  let schema: unknown = configSchema;
  for (const segment of path) {
    schema = unwrap(schema);
    const shape = (schema as { shape?: Record<string, unknown> }).shape;
    schema = shape?.[String(segment)];
  }
  const shape = (unwrap(schema) as { shape?: Record<string, unknown> }).shape;
  return shape ? Object.keys(shape) : [];
}

function unwrap(schema: unknown): unknown {
  let s = schema as { def?: { innerType?: unknown; in?: unknown } } | undefined;
  while (s?.def?.innerType !== undefined || s?.def?.in !== undefined) {
    s = (s.def.innerType ?? s.def.in) as typeof s;
  }
  return s;
}

/**
 * Runs `fn` with V8's stack capture off. yaml creates an Error per problem it finds, and
 * capturing each one's stack made a file of 100k errors four times slower; the messages are
 * all that is used. Synchronous, so nothing else runs while the limit is changed.
 */
function withoutStackTraces<T>(fn: () => T): T {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    return fn();
  } finally {
    Error.stackTraceLimit = limit;
  }
}

/** Where the first alias is: an alias bomb is reported there. */
function firstAliasOffset(doc: Document): number | undefined {
  let offset: number | undefined;
  visit(doc, {
    Alias(_key, node) {
      offset = node.range?.[0];
      return visit.BREAK;
    },
  });
  return offset;
}

function hasKey(data: unknown, key: string): boolean {
  return typeof data === "object" && data !== null && Object.hasOwn(data, key);
}
