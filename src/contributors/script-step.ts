import type { PackerBundle } from "../bundle/bundle.js";
import { template, type HclRef } from "../bundle/hcl-value.js";
import type { Config } from "../config/schema.js";
import { osFamily } from "../os/index.js";
import { communicatorFor } from "./communicator.js";
import type { ContributeContext } from "./contributor.js";
import { composeScript, type ScriptName } from "./script-library.js";

export interface ScriptStep {
  /** Step id, also the shipped script's name: `k8s-kernel` runs `scripts/k8s-kernel.sh`. */
  step: string;
  /** The script it runs (default: the step id). */
  script?: ScriptName;
  contributor: string;
  /** Environment variable → the Packer variable that holds its value. */
  env?: Readonly<Record<string, HclRef>>;
  /** Packer ends the step (and fails the build) after this long, e.g. "30m". */
  timeout?: string;
}

/**
 * Adds one step's script, composed for the config's OS family, as its own shell provisioner. One provisioner per script gives
 * Packer's output (and homelab's progress view) one named step per script, and each script
 * receives only the variables it reads. Values reach the script through Packer's
 * environment_vars, which Packer single-quotes for the shell: nothing is spliced into code.
 */
export function addScriptStep(bundle: PackerBundle, config: Config, context: ContributeContext, s: ScriptStep): void {
  const path = `scripts/${s.step}.sh`;
  const script = s.script ?? (s.step as ScriptName);
  bundle.addFile(path, { content: composeScript(s.step, script, osFamily(config).scriptSet, context.asset), mode: 0o755 });
  const env = Object.entries(s.env ?? {}).map(([name, value]) => template(`${name}=`, value));
  bundle.addProvisioner({
    step: s.step,
    contributor: s.contributor,
    type: "shell",
    options: {
      scripts: [path],
      ...(env.length > 0 ? { environment_vars: env } : {}),
      execute_command: communicatorFor(config).executeCommand,
      ...(s.timeout === undefined ? {} : { timeout: s.timeout }),
    },
  });
}
