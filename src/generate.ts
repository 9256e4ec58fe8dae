import type { Config } from "./config/schema.js";
import type { Contributor } from "./contributors/contributor.js";
import { defaultContributors } from "./contributors/index.js";
import { buildBundle } from "./contributors/pipeline.js";
import { boxName } from "./naming.js";
import { osFamily } from "./os/index.js";
import { renderBundle, type RenderedBundle } from "./bundle/render-bundle.js";
import { writeBundle } from "./bundle/write-bundle.js";
import { VERSION } from "./version.js";

export interface GenerateOptions {
  outDir: string;
  /** Packer version the bundle targets (see RenderOptions.packerVersion). */
  packerVersion?: string;
  contributors?: readonly Contributor[];
}

export interface GenerateResult {
  outDir: string;
  hash: string;
  boxName: string;
  files: string[];
}

/** Config → bundle → rendered files, without touching the disk. */
export function renderConfig(
  config: Config,
  opts: Pick<GenerateOptions, "packerVersion" | "contributors"> = {},
): RenderedBundle {
  const bundle = buildBundle(config, opts.contributors ?? defaultContributors());
  return renderBundle(bundle, {
    ...(opts.packerVersion === undefined ? {} : { packerVersion: opts.packerVersion }),
    readme: bundleReadme(config, bundle.steps()),
  });
}

/**
 * Renders the bundle for `config` and writes it to `outDir` (missing, empty, or a bundle homelab
 * wrote: see writeBundle), replacing only homelab's own files there.
 */
export async function generate(config: Config, opts: GenerateOptions): Promise<GenerateResult> {
  const rendered = renderConfig(config, opts);
  await writeBundle(rendered, opts.outDir);
  return { outDir: opts.outDir, hash: rendered.hash, boxName: boxName(config), files: [...rendered.files.keys()] };
}

/** Where the bundle reads a base image from, and how to point it elsewhere after a move. */
function baseImageNote(config: Config): string {
  if (config.base === undefined || /^https?:\/\//.test(config.base.image)) return "";
  return (
    `\nThe base image is read from its absolute path, \`${config.base.image}\` (\`base_image\` in\n` +
    "`homelab.auto.pkrvars.hcl`): the bundle can move, and if the image moves, build with\n" +
    "`-var base_image=/its/new/path.qcow2` (its checksum stays the same).\n"
  );
}

function bundleReadme(config: Config, steps: readonly string[]): string {
  const pins = [...osFamily(config).pins, ...(config.k8s ? [`${config.k8s.distribution} ${config.k8s.version}`] : [])];
  return `# ${boxName(config)}

A standalone Packer bundle written by homelab ${VERSION}. It needs nothing from homelab:

    packer validate .
    packer build .

With Packer 1.7 or newer, run \`packer init .\` once first when \`packer.pkr.hcl\` declares
\`required_plugins\` (homelab writes them for Packer >= 1.7; Packer 1.6 has its plugins built in).

Pins (${pins.join(", ")}) are in
\`homelab.auto.pkrvars.hcl\`. Override a variable with \`-var name=value\`, e.g.
\`-var accelerator=tcg -var cpu_model=max\` on a machine without KVM.
${baseImageNote(config)}
Steps, in order: ${steps.join(", ")}.

\`.homelab-bundle\` lists the files homelab wrote here. Running \`homelab generate\` again
replaces exactly those files and leaves everything else: Packer's \`output/\` (the boxes),
\`output-vm/\` and \`packer_cache/\`, and any file of yours. Edit a listed file and the next
generate replaces it; to keep a change, make it in homelab.yaml.
`;
}
