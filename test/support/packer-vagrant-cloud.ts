import { join } from "node:path";

/** What the template publishes, and where. */
export interface VagrantCloudPublish {
  /** Packer's working directory for this run (the placeholder file goes there). */
  readonly dir: string;
  /** The .box artifice hands to the post-processor. */
  readonly boxFile: string;
  readonly boxTag: string;
  readonly version: string;
  readonly description: string;
  /** `homelab box serve`'s base URL; the post-processor talks to its /api/v1. */
  readonly registryUrl: string;
}

/**
 * Packer 1.6.6's built-in `vagrant-cloud` post-processor in HCL2, as the README shows it: a
 * `file` source stands in for the VM build (artifice needs a build to follow) and `artifice`
 * hands the post-processor the .box. The token is the variable `registry_token`
 * (`-var registry_token=…`), so it never lands in the file. Strings are written as JSON string
 * literals, which HCL reads the same, so a path with quotes or backslashes cannot break out.
 */
export function vagrantCloudTemplate(o: VagrantCloudPublish): string {
  const s = (v: string): string => JSON.stringify(v);
  return `variable "registry_token" {
  type = string
}

source "file" "placeholder" {
  content = "stands in for the VM build: the post-processors only see the .box"
  target  = ${s(join(o.dir, "placeholder.txt"))}
}

build {
  sources = ["source.file.placeholder"]
  post-processors {
    post-processor "artifice" {
      files = [${s(o.boxFile)}]
    }
    post-processor "vagrant-cloud" {
      box_tag             = ${s(o.boxTag)}
      version             = ${s(o.version)}
      version_description = ${s(o.description)}
      access_token        = var.registry_token
      vagrant_cloud_url   = ${s(`${o.registryUrl}/api/v1`)}
    }
  }
}
`;
}

/** Packer's environment for a run in `dir`: its own home, config and cache, no phone-home, no token from the test's environment. */
export function packerEnv(dir: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, CHECKPOINT_DISABLE: "1", HOME: dir, PACKER_CONFIG_DIR: dir, PACKER_CACHE_DIR: join(dir, "cache") };
  delete env.VAGRANT_CLOUD_TOKEN;
  return env;
}
