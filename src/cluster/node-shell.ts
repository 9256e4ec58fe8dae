import { appendFile } from "node:fs/promises";
import { join } from "node:path";
import type { CancelRequest } from "../packer/cancel.js";
import { runProcess, shq, type ProcessResult } from "./process.js";
import { UP_LOG } from "./cluster-dir.js";

/**
 * Runs scripts on the nodes as root, over plain `ssh -F <the cluster's ssh-config>` (what
 * `vagrant ssh-config` printed: the management address, the generated key, no host-key prompts),
 * which costs a fraction of a second where `vagrant ssh -c` costs two.
 */
export class NodeShell {
  constructor(
    private readonly dir: string,
    private readonly sshConfig: string,
    private readonly opts: { cancel?: CancelRequest; env?: NodeJS.ProcessEnv } = {},
  ) {}

  async run(node: string, script: string, input?: string, opts: { secretOutput?: boolean } = {}): Promise<ProcessResult> {
    const args = ["-F", this.sshConfig, "-o", "BatchMode=yes", "-o", "ConnectTimeout=30", node, `sudo -n sh -c ${shq(script)}`];
    const r = await runProcess("ssh", args, {
      ...(input === undefined ? {} : { input }),
      ...(this.opts.cancel ? { cancel: this.opts.cancel } : {}),
      ...(this.opts.env ? { env: this.opts.env } : {}),
    });
    // The log never gets what was sent on stdin (join secrets), nor an output that is a secret (admin.conf).
    const out = opts.secretOutput ? "(output not logged: it holds credentials)\n" : r.stdout;
    await appendFile(join(this.dir, UP_LOG), `\n[${node}] $ ${script}\n${out}${r.stderr}(exit ${r.code})\n`);
    return r;
  }

  /** Writes `content` to `path` on the node, mode 0600, root's (the directory made 0700 if missing). */
  writeFile(node: string, path: string, content: string): Promise<ProcessResult> {
    const dir = path.slice(0, path.lastIndexOf("/")) || "/";
    return this.run(node, `umask 077 && mkdir -p ${shq(dir)} && cat > ${shq(path)}`, content);
  }
}
