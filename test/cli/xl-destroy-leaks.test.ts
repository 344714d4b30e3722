import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { main } from "../../src/cli/main.js";
import { type DomainReport, describeLeaks } from "../../src/hypervisor/report.js";
import { ControlServer } from "../../src/toolstack/control-server.js";

const leaky: DomainReport = {
  domid: 3,
  name: "web",
  mappedGrants: [{ ref: 9, mapper: 0, pins: 1, writablePins: 1 }],
  heldMappings: [{ handle: 4, granter: 5, ref: 12, readonly: true }],
  liveGrants: [{ ref: 10, grantee: 0, frame: 77, readonly: false }],
  reservedGrants: [],
  boundPorts: [{ port: 5, status: "interdomain", remoteDomid: 0, remotePort: 9, vcpu: 0 }],
  clean: false,
};

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function hostAnswering(report: unknown): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), "pvscsi-xl-"));
  const path = join(dir, "h.sock");
  const server = new ControlServer(path, { handle: async () => report });
  await server.listen();
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  cleanups.push(() => server.close());
  return path;
}

describe("xl destroy reports leaks as readable lines and fails", () => {
  it("describes each leaked grant, mapping and port on a line of its own", () => {
    expect(describeLeaks(leaky)).toEqual([
      "dom3 (web): grant ref 9 is still mapped by dom0 (1 pin(s), 1 writable)",
      "dom3 (web): still maps grant ref 12 of dom5 (handle 4, read-only)",
      "dom3 (web): grant ref 10 still permits dom0 writable access to frame 77",
      "dom3 (web): event channel port 5 is still bound to dom0 port 9",
    ]);
    expect(
      describeLeaks({
        ...leaky,
        mappedGrants: [],
        heldMappings: [],
        liveGrants: [],
        boundPorts: [],
        clean: true,
      }),
    ).toEqual([]);
  });

  it("exits 1 with the lines on stderr when the domain left something behind, 0 when clean", async () => {
    let err = "";
    const io = { out: () => undefined, err: (t: string) => (err += t) };
    expect(await main(["xl", "--socket", await hostAnswering(leaky), "destroy", "web"], io)).toBe(1);
    expect(err).toContain("xl destroy web: the domain is destroyed but left resources behind:\n");
    expect(err).toContain("  dom3 (web): event channel port 5 is still bound to dom0 port 9\n");
    expect(err).not.toContain("{");
    const clean = {
      ...leaky,
      mappedGrants: [],
      heldMappings: [],
      liveGrants: [],
      boundPorts: [],
      clean: true,
    };
    expect(await main(["xl", "--socket", await hostAnswering(clean), "destroy", "web"], io)).toBe(0);
  });
});

describe("xl create speaks as xl does", () => {
  it("prints 'Parsing config from <file>' on stderr, and the config's warnings there too", async () => {
    const path = await hostAnswering({
      domid: 4,
      name: "web",
      warnings: ["web.cfg:3: unknown setting 'vscsii' ignored"],
    });
    const dir = mkdtempSync(join(tmpdir(), "pvscsi-xl-"));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const cfg = join(dir, "web.cfg");
    writeFileSync(cfg, 'name = "web"\n');
    let out = "";
    let err = "";
    const code = await main(["xl", "--socket", path, "create", cfg], {
      out: (t) => (out += t),
      err: (t) => (err += t),
    });
    expect(code).toBe(0);
    expect(err.startsWith(`Parsing config from ${cfg}\n`)).toBe(true);
    expect(err).toContain("unknown setting 'vscsii' ignored");
    expect(out).not.toContain("Parsing config");
  });
});
