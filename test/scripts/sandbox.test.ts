import { afterEach, describe, expect, it } from "vitest";
import { Sandbox } from "../support/sandbox.js";
import { canRun, familySandbox } from "../support/shipped.js";
import { ALPINE, DEBIAN } from "../support/shims.js";

let sb: Sandbox | undefined;
afterEach(() => sb?.dispose());

// The script tests are only meaningful if the sandbox really isolates and the shims really win.
describe.skipIf(!canRun(ALPINE))("the script sandbox", () => {
  it("runs shims before BusyBox applets and logs their calls", async () => {
    sb = await Sandbox.create({ shims: { modprobe: "echo shimmed" } });
    sb.write("/etc/probe.sh", "modprobe overlay 'two words'\n");
    const r = await sb.exec(["/bb/sh", "/etc/probe.sh"]);
    expect(r.stdout).toBe("shimmed\n");
    expect(sb.calls()).toEqual(["modprobe overlay two words"]);
  });

  it("confines writes to the temporary root and uses BusyBox, not GNU, tools", async () => {
    sb = await Sandbox.create();
    sb.write("/etc/probe.sh", "echo hello >/etc/written; command -v sed; ls /usr/bin\n");
    const r = await sb.exec(["/bb/sh", "/etc/probe.sh"]);
    expect(r.stdout).toBe("/bb/sed\n"); // nothing of the host's /usr/bin
    expect(sb.read("/etc/written")).toBe("hello\n");
  });

  it("plays Alpine with apk and OpenRC, and no systemctl", async () => {
    sb = await familySandbox(ALPINE);
    sb.write("/etc/probe.sh", "for c in sh awk apk rc-update; do command -v $c; done; command -v systemctl || echo 'no systemctl'\n");
    expect((await sb.exec(["/bb/sh", "/etc/probe.sh"])).stdout).toBe("/bb/sh\n/bb/awk\n/shims/apk\n/shims/rc-update\nno systemctl\n");
  });
});

describe.skipIf(!canRun(DEBIAN))("the Debian sandbox", () => {
  it("runs scripts under dash with GNU tools and mawk, apt and systemd, and nothing else of the host", async () => {
    sb = await familySandbox(DEBIAN);
    sb.write("/etc/probe.sh", 'for c in sh awk apt-get systemctl; do command -v $c; done; awk -W version 2>&1 | head -n 1 | cut -c1-4; command -v wget || echo "no wget"; command -v apk || echo "no apk"\n');
    const r = await sb.exec(["/deb/sh", "/etc/probe.sh"]);
    expect(r.stdout).toBe("/deb/sh\n/deb/awk\n/shims/apt-get\n/shims/systemctl\nmawk\nno wget\nno apk\n");
  });
});
