import type { Config } from "../config/schema.js";

/** Who Packer logs in as during the build, and how it runs scripts and shuts down. */
export interface Communicator {
  username: string;
  password: string;
  executeCommand: string;
  shutdownCommand: string;
}

/**
 * The Alpine installer leaves root with the Vagrant default password (install.sh); the Debian
 * preseed creates `vagrant` with passwordless sudo; a bring-your-own image says who in base.ssh.
 * Packer's {{ .Vars }} puts environment_vars before the command; `sudo -E` keeps them.
 */
export function communicatorFor(config: Config): Communicator {
  const login =
    config.base?.ssh ?? (config.family === "alpine" ? { username: "root", password: "vagrant" } : { username: "vagrant", password: "vagrant" });
  const root = login.username === "root";
  return {
    ...login,
    executeCommand: root ? "{{ .Vars }} sh '{{ .Path }}'" : "{{ .Vars }} sudo -E sh '{{ .Path }}'",
    shutdownCommand: root ? "poweroff" : "sudo poweroff",
  };
}
