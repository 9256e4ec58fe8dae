import type { Config } from "../config/schema.js";
import { osFamily } from "../os/index.js";

/** Who Packer logs in as during the build, and how it runs scripts and shuts down. */
export interface Communicator {
  username: string;
  password: string;
  executeCommand: string;
  shutdownCommand: string;
}

/**
 * The OS family says who logs in (root on Alpine's install, vagrant from Debian's preseed,
 * base.ssh on a bring-your-own image). Packer's {{ .Vars }} puts environment_vars before the
 * command; `sudo -E` keeps them.
 */
export function communicatorFor(config: Config): Communicator {
  const login = osFamily(config).login;
  const root = login.username === "root";
  return {
    ...login,
    executeCommand: root ? "{{ .Vars }} sh '{{ .Path }}'" : "{{ .Vars }} sudo -E sh '{{ .Path }}'",
    shutdownCommand: root ? "poweroff" : "sudo poweroff",
  };
}
