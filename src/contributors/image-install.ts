import { ref } from "../packer/hcl-value.js";
import type { InstallSource } from "./install-source.js";

/** A bring-your-own bootable disk image (qcow2), checksum-verified by Packer, no installer. */
export const imageInstall: InstallSource = {
  prepare(bundle, config) {
    const base = config.base!;
    bundle
      .addVariable("base_image", { type: "string", description: "The base disk image (path or URL)." }, base.image)
      .addVariable("base_image_checksum", { type: "string", description: "Its checksum (sha256:<hex>)." }, base.checksum);
  },
  options: () => ({ iso_url: ref("var.base_image"), iso_checksum: ref("var.base_image_checksum"), boot_wait: "5s" }),
  qemuOptions: () => ({ disk_image: true }),
};
