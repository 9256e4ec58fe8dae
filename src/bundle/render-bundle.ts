import { createHash } from "node:crypto";
import type { BundleFile, PackerBundle, PostProcessor, Provisioner, Source } from "./bundle.js";
import { ref, type HclValue } from "./hcl-value.js";
import { optionEntries, renderAttributes, renderBlock } from "./hcl-render.js";
import { parseVersionText, PLUGINS_SINCE, supportsPlugins } from "../packer/version.js";

export interface RenderOptions {
  /**
   * The Packer version the bundle is for. The `packer {}` block with `required_plugins` is only
   * understood from 1.7 on (Debian ships 1.6.6, where builders are built in), so it is left out
   * for older versions. Undefined means a current Packer.
   */
  packerVersion?: string;
  /** Text for the bundle's README (what made it and how to build it by hand). */
  readme?: string;
}

export interface RenderedBundle {
  /** Relative path → file, in a stable order. */
  files: Map<string, BundleFile>;
  /** sha256 over every file's path, mode and content: names the bundle and its build. */
  hash: string;
}

/** Renders a bundle into the files of a standalone Packer project. Pure and deterministic. */
export function renderBundle(bundle: PackerBundle, options: RenderOptions = {}): RenderedBundle {
  const files = new Map<string, BundleFile>();
  const text = (content: string): BundleFile => ({ content: `${content}\n`, mode: 0o644 });

  if (bundle.requiredPlugins.size > 0 && rendersPlugins(options.packerVersion)) {
    files.set("packer.pkr.hcl", text(renderPackerBlock(bundle)));
  }
  files.set("variables.pkr.hcl", text(renderVariables(bundle)));
  if (bundle.values.size > 0) {
    files.set("homelab.auto.pkrvars.hcl", text(renderAttributes([...bundle.values], 0)));
  }
  files.set("sources.pkr.hcl", text(bundle.sources.map(renderSource).join("\n\n")));
  files.set("build.pkr.hcl", text(renderBuild(bundle)));
  if (options.readme !== undefined) files.set("README.md", text(options.readme.trimEnd()));
  for (const path of [...bundle.files.keys()].sort()) files.set(path, bundle.files.get(path)!);
  return { files, hash: hashFiles(files) };
}

function rendersPlugins(version: string | undefined): boolean {
  if (version === undefined) return true;
  const parsed = parseVersionText(version);
  if (parsed === undefined) throw new Error(`not a Packer version: ${JSON.stringify(version)}`);
  return supportsPlugins(parsed);
}

function renderPackerBlock(bundle: PackerBundle): string {
  const plugins = [...bundle.requiredPlugins.values()].sort((a, b) => a.name.localeCompare(b.name));
  const body = plugins
    .map((p) => renderAttributes([[p.name, { version: p.version, source: p.source }]], 2))
    .join("\n");
  const requiredVersion = renderAttributes([["required_version", `>= ${Object.values(PLUGINS_SINCE).join(".")}`]], 1);
  return renderBlock("packer", [], `${requiredVersion}\n${renderBlock("required_plugins", [], body, 1)}`);
}

function renderVariables(bundle: PackerBundle): string {
  const blocks = [...bundle.variables].map(([name, v]) => {
    const entries: Array<readonly [string, HclValue]> = [["type", ref(v.type === "list(string)" ? "list" : v.type)]];
    entries.push(["description", v.description]);
    if (v.default !== undefined) entries.push(["default", v.default]);
    if (v.sensitive) entries.push(["sensitive", true]);
    let body = renderAttributes(entries, 1);
    // `list(string)` is a type expression, not a traversal; spell it out after rendering.
    if (v.type === "list(string)") body = body.replace(/= list$/m, "= list(string)");
    return renderBlock("variable", [name], body);
  });
  if (bundle.locals.size > 0) blocks.push(renderBlock("locals", [], renderAttributes([...bundle.locals], 1)));
  return blocks.join("\n\n");
}

function renderSource(source: Source): string {
  return renderBlock("source", [source.type, source.name], renderAttributes(optionEntries(source.options), 1));
}

function renderBuild(bundle: PackerBundle): string {
  const parts: string[] = [
    renderAttributes(
      [
        ["name", bundle.buildName],
        ["sources", bundle.sources.map((s) => `source.${s.type}.${s.name}`)],
      ],
      1,
    ),
  ];
  for (const p of bundle.provisioners) parts.push(renderStep("provisioner", p, 1));
  if (bundle.postProcessors.length > 0) {
    const chain = bundle.postProcessors.map((p) => renderStep("post-processor", p, 2)).join("\n\n");
    parts.push(renderBlock("post-processors", [], chain, 1));
  }
  return renderBlock("build", [], parts.join("\n\n"));
}

/** A provisioner or post-processor, headed by a comment naming its step and contributor. */
function renderStep(kind: string, step: Provisioner | PostProcessor, depth: number): string {
  const pad = "  ".repeat(depth);
  const comment = `${pad}# step ${step.step} (from ${step.contributor})`;
  return `${comment}\n${renderBlock(kind, [step.type], renderAttributes(optionEntries(step.options), depth + 1), depth)}`;
}

function hashFiles(files: Map<string, BundleFile>): string {
  const hash = createHash("sha256");
  for (const [path, file] of files) {
    const content = typeof file.content === "string" ? Buffer.from(file.content) : file.content;
    hash.update(`${path}\0${file.mode.toString(8)}\0${content.length}\0`);
    hash.update(content);
  }
  return hash.digest("hex");
}

