import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { main } from "../../src/cli/main.js";
import { XenstoreDb } from "../../src/xenstore/database.js";
import { dumpFile } from "../../src/xenstore/dump.js";
import { dbLsSource, renderLs, sanitiseValue } from "../../src/xenstore/ls.js";
import { parsePerms } from "../../src/xenstore/perms.js";

async function run(argv: string[], columns?: number) {
  let out = "";
  let err = "";
  const code = await main(argv, {
    out: (t) => {
      out += t;
    },
    err: (t) => {
      err += t;
    },
    columns,
  });
  return { code, out, err };
}

function storeFile(build: (db: XenstoreDb) => void): string {
  const db = new XenstoreDb();
  build(db);
  const file = join(mkdtempSync(join(tmpdir(), "pvscsi-xs-")), "store.json");
  writeFileSync(file, JSON.stringify(dumpFile(db.dump())));
  return file;
}

/** The PVSCSI layout of Xen's `io/vscsiif.h` ("Xenstore format in practice"), as a toolstack and both drivers would leave it. */
const pvscsiStore = () =>
  storeFile((db) => {
    const c = db.connect(0);
    const be = "/local/domain/0/backend/vscsi/1/0";
    c.write(`${be}/feature-host`, "0");
    c.write(`${be}/frontend`, "/local/domain/1/device/vscsi/0");
    c.write(`${be}/state`, "4");
    c.write(`${be}/vscsi-devs/dev-0/p-dev`, "8:0:2:1");
    c.write(`${be}/vscsi-devs/dev-0/v-dev`, "0:0:0:0");
    c.write("/local/domain/1/device/vscsi/0/backend-id", "0");
    c.setPerms("/local/domain/1", parsePerms(["n1", "r0"]));
  });

describe("pvscsi xenstore-ls", () => {
  it("--help describes the command", async () => {
    const r = await run(["xenstore-ls", "--help"]);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^Usage: pvscsi xenstore-ls /);
    expect(r.out).toContain("--from");
    expect((await run(["--help"])).out).toContain("xenstore-ls");
  });

  it('prints an indented tree of name = "value", children in creation order', async () => {
    const r = await run(["xenstore-ls", "--from", pvscsiStore(), "/local/domain/0"]);
    expect(r.code).toBe(0);
    expect(r.out).toBe(
      [
        'backend = ""',
        ' vscsi = ""',
        '  1 = ""',
        '   0 = ""',
        '    feature-host = "0"',
        '    frontend = "/local/domain/1/device/vscsi/0"',
        '    state = "4"',
        '    vscsi-devs = ""',
        '     dev-0 = ""',
        '      p-dev = "8:0:2:1"',
        '      v-dev = "0:0:0:0"',
        "",
      ].join("\n"),
    );
  });

  it("-p adds the dotted leader to column 60 and the permissions", async () => {
    const r = await run(["xenstore-ls", "-p", "--from", pvscsiStore(), "/local/domain"]);
    const lines = r.out.split("\n");
    // After the value: one space, then from that column on '.' at odd columns and ' ' at even
    // ones up to column 59, then two spaces and the list.
    expect(lines[0]).toBe(`0 = "" ${". ".repeat(26)}.  (n0)`);
    expect(lines[0]!.indexOf("(")).toBe(62);
    expect(lines).toContain(`  vscsi = "" ${". ".repeat(23)}.  (n0)`);
    expect(lines).toContain(`1 = "" ${". ".repeat(26)}.  (n1,r0)`);
    expect(lines).toContain(`     feature-host = "0"  ${". ".repeat(17)}.  (n0)`);
  });

  it("-f prints whole paths", async () => {
    const r = await run(["xenstore-ls", "-f", "--from", pvscsiStore(), "/local/domain/1"]);
    expect(r.out).toBe(
      [
        '/local/domain/1/device = ""',
        '/local/domain/1/device/vscsi = ""',
        '/local/domain/1/device/vscsi/0 = ""',
        '/local/domain/1/device/vscsi/0/backend-id = "0"',
        "",
      ].join("\n"),
    );
  });

  it("escapes non-printable bytes like xs_sanitise_value and cuts long values at the width", async () => {
    expect(sanitiseValue(new Uint8Array([0x41, 0x01, 0x09, 0x0a, 0x0d, 0x5c, 0x7f, 0xc8, 0x20]))).toBe(
      "A\\001\\t\\n\\r\\\\\\x7f\\xc8 ",
    );
    const file = storeFile((db) => db.connect(0).write("/v/long", "y".repeat(100)));
    const r80 = await run(["xenstore-ls", "--from", file, "/v"]);
    // 80 columns: name (4) + ` = "` + 68 characters + `\..."`.
    expect(r80.out).toBe(`long = "${"y".repeat(68)}\\..."\n`);
    const r40 = await run(["xenstore-ls", "--from", file, "/v"], 42);
    expect(r40.out).toBe(`long = "${"y".repeat(28)}\\..."\n`);
  });

  it("shows name: and an empty line for a node the reader may not read, then stops at its listing", async () => {
    const db = new XenstoreDb();
    const c = db.connect(0);
    c.write("/local/domain/2/open", "yes");
    c.write("/local/domain/2/closed", "no");
    c.setPerms("/local/domain/2", parsePerms(["n2"]));
    c.setPerms("/local/domain/2/open", parsePerms(["n2"]));
    c.setPerms("/local/domain/2/closed", parsePerms(["n0"]));
    let out = "";
    const listing = renderLs(
      dbLsSource(db.connect(2)),
      "/local/domain/2",
      {},
      {
        out: (t) => {
          out += t;
        },
        warn: () => {},
      },
    );
    // Xen's xenstore-ls skips a child that vanished (ENOENT) but fails on any other error.
    await expect(listing).rejects.toMatchObject({ errno: "EACCES" });
    expect(out).toBe('open = "yes"\nclosed:\n\n');
  });

  it("--json prints the subtree with values and permissions", async () => {
    const r = await run(["xenstore-ls", "--json", "--from", pvscsiStore(), "/local/domain/1"]);
    expect(JSON.parse(r.out)).toEqual({
      name: "1",
      value: "",
      perms: ["n1", "r0"],
      children: [
        {
          name: "device",
          value: "",
          perms: ["n0"],
          children: [
            {
              name: "vscsi",
              value: "",
              perms: ["n0"],
              children: [
                {
                  name: "0",
                  value: "",
                  perms: ["n0"],
                  children: [{ name: "backend-id", value: "0", perms: ["n0"], children: [] }],
                },
              ],
            },
          ],
        },
      ],
    });
  });

  it("reports a missing path, no running host, two sources, and a malformed dump", async () => {
    const missing = await run(["xenstore-ls", "--from", pvscsiStore(), "/nope"]);
    expect(missing).toMatchObject({ code: 1, err: "pvscsi xenstore-ls: xs_directory (/nope): ENOENT\n" });
    // Without --from it reads the running host's store; with none running, it says how to start one.
    const noHost = await run(["xenstore-ls", "--socket", join(tmpdir(), `pvscsi-none-${process.pid}.sock`)]);
    expect(noHost.code).toBe(1);
    expect(noHost.err).toContain("no pvscsi host is running there (start one with 'pvscsi up')");
    expect((await run(["xenstore-ls", "--socket", "x", "--from", "y"])).code).toBe(2);
    const dir = mkdtempSync(join(tmpdir(), "pvscsi-xs-"));
    writeFileSync(
      join(dir, "bad.json"),
      JSON.stringify({ format: "pvscsi-xenstore-dump", version: 1, root: { name: "", perms: ["x9"] } }),
    );
    const bad = await run(["xenstore-ls", "--from", join(dir, "bad.json")]);
    expect(bad.code).toBe(2);
    expect(bad.err).toContain("root.perms");
    expect((await run(["xenstore-ls", "--from", join(dir, "none.json")])).code).toBe(2);
  });
});

describe("pvscsi abi", () => {
  it("--json includes xsd_sockmsg and xenstore_domain_interface as xs_wire.h lays them out", async () => {
    const r = await run(["abi", "--json"]);
    const doc = JSON.parse(r.out);
    expect(doc.structs.xsd_sockmsg).toEqual({
      size: 16,
      fields: {
        type: { offset: 0, size: 4 },
        req_id: { offset: 4, size: 4 },
        tx_id: { offset: 8, size: 4 },
        len: { offset: 12, size: 4 },
      },
    });
    expect(doc.structs.xenstore_domain_interface.size).toBe(2076);
    expect(doc.structs.xenstore_domain_interface.fields.error).toEqual({ offset: 2072, size: 4 });
  });
});
