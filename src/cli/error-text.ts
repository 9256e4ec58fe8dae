import type { HomelabError } from "../errors.js";

/**
 * An error's message as the CLI prints it: the library says what happened and, as its `kind`,
 * what the way out is about; the flags that are that way out are the CLI's to name.
 */
export function cliMessage(err: HomelabError): string {
  switch (err.kind) {
    case "exists":
      return `${err.message} (use --force to replace it)`;
    case "stored-checksum-differs":
      return `${err.message}; publish again (with --force)`;
    case "token-needed":
      return `${err.message}: pass --token or set HOMELAB_REGISTRY_TOKEN`;
    case "architecture-needs-provider":
      return "--architecture needs --provider when publishing over HTTP";
    case undefined:
      return err.message;
  }
}

/** An fsck finding's detail with the flag that repairs it, where one does. */
export function findingDetail(f: { kind: string; detail: string }): string {
  return f.kind === "size-mismatch" ? `${f.detail} (publish it again with --force)` : f.detail;
}
