import { it } from "vitest";
import { execFileSync } from "node:child_process";
import { readFileSync, mkdirSync } from "node:fs";
import { startRegistryServer } from "../../src/box/server.js";
import { http, tempDir, WRITE_TOKEN } from "./support.js";
it("dbg", async () => {
  const tmp = tempDir(); const root = tmp.path + "/r"; mkdirSync(root);
  const s = await startRegistryServer({ root, port: 0, writeTokens: [WRITE_TOKEN], readTokens: [], log: (l) => console.log("LOG", l) });
  execFileSync("python3", ["-c", `import tarfile,io,sys\nt=tarfile.open(sys.argv[1],"w:gz")\ni=tarfile.TarInfo("../../../tmp/sentinel"); i.size=3; t.addfile(i, io.BytesIO(b"pwn"))\nm=tarfile.TarInfo("metadata.json"); d=b'{"provider":"libvirt"}'; m.size=len(d); t.addfile(m, io.BytesIO(d))\nt.close()`, tmp.path + "/t.box"]);
  const body = readFileSync(tmp.path + "/t.box");
  const r = await http(`${s.url}/acme/x/1.0.0`, { method: "PUT", body, headers: { Authorization: `Bearer ${WRITE_TOKEN}` } }).catch((e) => e);
  console.log("RES", r.status ?? r.message, r.body?.toString());
  await s.close({ graceMs: 100 });
});
