/** homelab's library API: everything the CLI does is available here. */
export { loadConfig, parseConfig, ConfigError, type ConfigProblem } from "./config/load.js";
export {
  configSchema,
  type Config,
  type AlpineConfig,
  type DebianConfig,
  type ConfigInput,
  type Distribution,
  type BakeMode,
  type Cni,
  type Provider,
  type Arch,
} from "./config/schema.js";
export { osFamily, archOf, type OsFamily, type OsPin, type Login, type InstallSource } from "./os/index.js";
export { configJsonSchema } from "./config/json-schema.js";
export { DEFAULTS, FLANNEL, PAUSE_IMAGE_BY_MINOR } from "./config/defaults.js";
export { starterConfig } from "./config/starter.js";
export type { Contributor, ContributeContext } from "./contributors/contributor.js";
export { defaultContributors, baseOs, bootCheck, k8sNode, nodeVerify, sysprep } from "./contributors/index.js";
export { bakedCni } from "./contributors/k8s-node.js";
export { buildBundle, sortContributors } from "./contributors/pipeline.js";
export { PackerBundle } from "./bundle/bundle.js";
export type * from "./bundle/bundle.js";
export { ref, template, type HclValue, type HclRef, type HclTemplate } from "./bundle/hcl-value.js";
export { renderBundle, type RenderedBundle, type RenderOptions } from "./bundle/render-bundle.js";
export { writeBundle } from "./bundle/write-bundle.js";
export { generate, renderConfig, type GenerateOptions, type GenerateResult } from "./generate.js";
export { boxName, boxBaseName } from "./naming.js";
export { HomelabError, InputError, JobError } from "./errors.js";
export * from "./versions/index.js";
export * from "./box/index.js";
export { compareVersions, type VersionCore } from "./semver.js";
export { PackerClient } from "./packer/client.js";
export { buildBoxes, type BuildRequest, type BuildOutcome } from "./builder/build.js";
export type { BuildRecord, BuiltBox } from "./builder/record.js";
export { CancelRequest } from "./packer/cancel.js";
export type { PackerEvent } from "./packer/machine-readable.js";
export { VERSION } from "./version.js";
export { chooseAcceleration, probeAccelerator, type AcceleratorChoice } from "./packer/accelerator.js";
export { CancelledError } from "./errors.js";
export * from "./mirror/index.js";
