import { parseConfig } from "../../src/config/load.js";
import { renderConfig } from "../../src/generate.js";
import { parseHcl } from "./hcl.js";
import { Sandbox, type ShippedScript } from "./sandbox.js";
import type { Family, FamilyUserland, Files } from "./shims.js";
import { needTool } from "./tools.js";

/**
 * The scripts exactly as a generated bundle ships them (composed from assets/scripts/ by the real
 * rendering), per OS family: what the script tests run. Every distribution's bundle is rendered,
 * and a step's script must be the same text in each (the config reaches it only through its
 * environment).
 */
const RENDERED: Record<Family, string> = { alpine: "", debian: "debian: {}\n" };
const cache = new Map<Family, Map<string, string>>();

export function shippedScripts(family: Family): Map<string, string> {
  let scripts = cache.get(family);
  if (scripts === undefined) {
    scripts = new Map();
    for (const k8s of ["k8s: {distribution: kubeadm}\n", "k8s: {distribution: k3s}\n"]) {
      for (const [path, file] of renderConfig(parseConfig(RENDERED[family] + k8s)).files) {
        if (!path.startsWith("scripts/")) continue;
        const name = path.slice("scripts/".length);
        const text = String(file.content);
        if (scripts.has(name) && scripts.get(name) !== text) throw new Error(`${family} ${name} differs between distributions`);
        scripts.set(name, text);
      }
    }
    cache.set(family, scripts);
  }
  return scripts;
}

/** One step's script (`k8s-swap`, or `base` for the family's base step) as the bundle ships it. */
export function shippedScript(family: Family, step: string): ShippedScript {
  const name = `${step === "base" ? `base-${family}` : step}.sh`;
  const text = shippedScripts(family).get(name);
  if (text === undefined) throw new Error(`no scripts/${name} in a ${family} bundle`);
  return { name, text };
}

/** A sandbox playing a fresh install of the family, with `files` on top. */
export function familySandbox(fam: FamilyUserland, files: Files = {}): Promise<Sandbox> {
  return Sandbox.create({ userland: fam.userland, shims: fam.shims, files: { ...fam.baseFiles, ...files } });
}

/** Whether the host has what a family's sandbox needs (curl: the Debian userland downloads with it). */
export function canRun(fam: FamilyUserland): boolean {
  return (fam.userland === "busybox" ? ["bwrap", "busybox"] : ["bwrap", "dash", "curl"]).every((t) => needTool(t));
}

/**
 * A step of a rendered bundle as Packer would run it: the script file it ships and the
 * environment its provisioner passes, each `${var.x}` resolved from the bundle's own
 * homelab.auto.pkrvars.hcl (read back with HashiCorp's HCL parser).
 */
export async function bundleStep(files: Map<string, { content: string | Uint8Array }>, step: string): Promise<{ script: ShippedScript; env: Record<string, string> }> {
  const text = (path: string) => String(files.get(path)?.content ?? "");
  const values = await parseHcl("homelab.auto.pkrvars.hcl", text("homelab.auto.pkrvars.hcl"));
  const build = await parseHcl("build.pkr.hcl", text("build.pkr.hcl"));
  const shells = ((build.build as Array<{ provisioner: { shell: Array<{ scripts: string[]; environment_vars?: string[] }> } }>)[0]!).provisioner.shell;
  const shell = shells.find((p) => p.scripts[0] === `scripts/${step}.sh`);
  if (shell === undefined) throw new Error(`the bundle has no step ${step}`);
  const env = Object.fromEntries(
    (shell.environment_vars ?? []).map((assignment) => {
      const [name, value] = assignment.split(/=(.*)/s) as [string, string];
      return [name, value.replace(/\$\{var\.([a-z0-9_]+)\}/g, (_m, v: string) => String(values[v]))];
    }),
  );
  return { script: { name: `${step}.sh`, text: text(`scripts/${step}.sh`) }, env };
}
