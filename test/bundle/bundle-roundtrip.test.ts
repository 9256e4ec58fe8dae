import { execFileSync } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { defaultContributors } from "../../src/contributors/index.js";
import { buildBundle } from "../../src/contributors/pipeline.js";
import type { PackerBundle } from "../../src/bundle/bundle.js";
import { optionEntries } from "../../src/bundle/hcl-render.js";
import { renderBundle, type RenderedBundle } from "../../src/bundle/render-bundle.js";
import { writeBundle } from "../../src/bundle/write-bundle.js";
import { FLAVOURS, flavour } from "../support/configs.js";
import { expectedJson, parseHcl } from "../support/hcl.js";
import { needTool } from "../support/tools.js";

type Json = Record<string, any>;

async function parseAll(rendered: RenderedBundle): Promise<Record<string, Json>> {
  const out: Record<string, Json> = {};
  for (const [path, file] of rendered.files) {
    if (path.endsWith(".hcl")) out[path] = await parseHcl(path, String(file.content));
  }
  return out;
}

function entriesJson(options: object): Json {
  return Object.fromEntries(optionEntries(options).map(([k, v]) => [k, expectedJson(v)]));
}

/** Every fact of the model, as hcl2json should read it back from the rendered files. */
function expectations(bundle: PackerBundle) {
  return {
    values: Object.fromEntries([...bundle.values].map(([k, v]) => [k, expectedJson(v)])),
    variables: Object.fromEntries(
      [...bundle.variables].map(([k, v]) => [
        k,
        {
          type: `\${${v.type}}`,
          description: v.description,
          ...(v.default === undefined ? {} : { default: expectedJson(v.default) }),
        },
      ]),
    ),
    sources: bundle.sources.map((s) => ({ type: s.type, name: s.name, body: entriesJson(s.options) })),
    provisioners: bundle.provisioners.map((p) => ({ type: p.type, body: entriesJson(p.options) })),
    postProcessors: bundle.postProcessors.map((p) => ({ type: p.type, body: entriesJson(p.options) })),
  };
}

describe.each(Object.keys(FLAVOURS))("rendered bundle %s", (name) => {
  const bundle = buildBundle(flavour(name), defaultContributors());
  const rendered = renderBundle(bundle, { packerVersion: "1.6.6" });
  const expected = expectations(bundle);
  let parsed: Record<string, Json>;
  beforeAll(async () => {
    parsed = await parseAll(rendered);
  });

  it("parses back with HashiCorp's HCL parser and equals the model", () => {
    expect(parsed["homelab.auto.pkrvars.hcl"]).toEqual(expected.values);
    const variables = parsed["variables.pkr.hcl"]!.variable as Json;
    expect(Object.fromEntries(Object.entries(variables).map(([k, v]) => [k, v[0]]))).toEqual(expected.variables);

    const sources = parsed["sources.pkr.hcl"]!.source as Json;
    for (const s of expected.sources) expect(sources[s.type][s.name][0]).toEqual(s.body);
    expect(Object.values(sources).flatMap((byName) => Object.keys(byName as Json))).toHaveLength(expected.sources.length);

    const build = (parsed["build.pkr.hcl"]!.build as Json[])[0]!;
    expect(build.sources).toEqual(bundle.sources.map((s) => `source.${s.type}.${s.name}`));
    // hcl2json groups blocks by type; order within a type is kept.
    for (const type of new Set(expected.provisioners.map((p) => p.type))) {
      expect(build.provisioner[type]).toEqual(expected.provisioners.filter((p) => p.type === type).map((p) => p.body));
    }
    const chain = build["post-processors"][0]["post-processor"] as Json;
    for (const type of new Set(expected.postProcessors.map((p) => p.type))) {
      expect(chain[type]).toEqual(expected.postProcessors.filter((p) => p.type === type).map((p) => p.body));
    }
  });

  it("keeps the step order of the model in the build file", () => {
    const text = String(rendered.files.get("build.pkr.hcl")!.content);
    const order = [...text.matchAll(/# step (\S+) /g)].map((m) => m[1]);
    expect(order).toEqual(bundle.steps());
  });

  describe.skipIf(!needTool("packer"))("with the real Packer", () => {
    let dir: string;
    beforeAll(async () => {
      dir = join(mkdtempSync(join(tmpdir(), "homelab-bundle-")), name);
      await writeBundle(rendered, dir);
    });

    it("passes `packer validate`", () => {
      execFileSync("packer", ["validate", "."], { cwd: dir, env: { ...process.env, CHECKPOINT_DISABLE: "1" } });
    });

    it("is already formatted (`packer fmt -check`)", () => {
      execFileSync("packer", ["fmt", "-check", "."], { cwd: dir });
    });
  });
});

describe.skipIf(!needTool("packer"))("bundle for Packer >= 1.7", () => {
  it("pins required_plugins and stays formatted", async () => {
    const rendered = renderBundle(buildBundle(flavour("kubeadm-both-article-pins"), defaultContributors()), {
      packerVersion: "1.11.2",
    });
    const parsed = await parseHcl("packer.pkr.hcl", String(rendered.files.get("packer.pkr.hcl")!.content));
    const plugins = (parsed.packer as Json[])[0]!.required_plugins[0];
    expect(plugins).toEqual({
      qemu: { source: "github.com/hashicorp/qemu", version: "~> 1.1" },
      vagrant: { source: "github.com/hashicorp/vagrant", version: "~> 1.1" },
      virtualbox: { source: "github.com/hashicorp/virtualbox", version: "~> 1.1" },
    });
    const dir = mkdtempSync(join(tmpdir(), "homelab-bundle17-"));
    await writeBundle(rendered, join(dir, "b"));
    execFileSync("packer", ["fmt", "-check", "."], { cwd: join(dir, "b") });
  });

  it("leaves the packer block out for Packer 1.6.6, which has no required_plugins", () => {
    const rendered = renderBundle(buildBundle(flavour("kubeadm-libvirt"), defaultContributors()), { packerVersion: "1.6.6" });
    expect(rendered.files.has("packer.pkr.hcl")).toBe(false);
  });
});
