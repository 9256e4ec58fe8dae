import type { Config } from "../config/schema.js";
import { ref } from "../bundle/hcl-value.js";
import type { OsFamily } from "./family.js";

/**
 * A bring-your-own bootable disk image (qcow2) of the distribution, checksum-verified by Packer:
 * no installer, and Packer logs in as base.ssh says. Its OS pins are the image's checksum.
 */
export function ownImage(distribution: OsFamily, base: NonNullable<Config["base"]>): OsFamily {
  const { upstreamPin: _installerPin, noInstaller: _noInstaller, ...rest } = distribution;
  return {
    ...rest,
    installSource: {
      prepare(bundle) {
        bundle
          .addVariable("base_image", { type: "string", description: "The base disk image (path or URL)." }, base.image)
          .addVariable("base_image_checksum", { type: "string", description: "Its checksum (sha256:<hex>)." }, base.checksum);
      },
      options: () => ({ iso_url: ref("var.base_image"), iso_checksum: ref("var.base_image_checksum"), boot_wait: "5s" }),
      qemuOptions: () => ({ disk_image: true }),
    },
    login: { username: base.ssh.username, password: base.ssh.password },
    displayName: `${distribution.name} (own base image)`,
    pins: [`base image ${base.checksum}`],
  };
}
