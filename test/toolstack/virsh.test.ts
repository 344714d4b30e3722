import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import type { LsscsiRow } from "../../src/targets/inventory/inventory.js";
import { domxmlFromNative, domxmlToNative } from "../../src/toolstack/virsh.js";
import { parseXml, serializeXml } from "../../src/toolstack/xml.js";
import { requireSystem } from "../_support/system.js";

/**
 * xl's vscsi ↔ libvirt's <hostdev type='scsi'>: the mapping of docs/libvirt.md, lossless round
 * trips, clear errors for what one side cannot say, and the XML checked against libvirt's own
 * RelaxNG schema (domain.rng, shipped by Debian's libvirt0; .ci/run extracts it).
 */

const row = (hctl: string, over: Partial<LsscsiRow> = {}): LsscsiRow => ({
  hctl,
  type: "disk",
  typeCode: 0,
  vendor: "PVSCSI",
  model: "RAMDISK",
  rev: "0001",
  dev: "-",
  sg: "-",
  wwn: "-",
  pdev: `naa.3000000000000${hctl.replace(/:/g, "").slice(0, 3)}:${hctl.split(":")[3]}`,
  shareable: false,
  fault: null,
  ...over,
});

/** A host that numbers its devices as a real one might: a disk, a shared disk, a CD-ROM. */
const inventory: LsscsiRow[] = [
  row("0:0:0:0", { dev: "/dev/sda", sg: "/dev/sg0", pdev: "naa.3000000000000001:0" }),
  row("0:0:1:0", { dev: "/dev/sdb", sg: "/dev/sg1", pdev: "naa.3000000000000002:0", shareable: true }),
  row("1:0:2:0", {
    type: "cd/dvd",
    typeCode: 5,
    dev: "/dev/sr0",
    sg: "/dev/sg2",
    pdev: "naa.3000000000000003:0",
  }),
];

const CFG = `name = 'web'
memory = 64
vscsi = [ '/dev/sda,0:0:0:0', 'naa.3000000000000002:0,0:0:1:0', '1:0:2:0,1:0:0:5,feature-host' ]
`;

const schemas = [
  process.env.LIBVIRT_SCHEMAS,
  "/usr/share/libvirt/schemas",
  resolve(__dirname, "../../.ci/cache/libvirt0/usr/share/libvirt/schemas"),
].find((d) => d !== undefined && existsSync(join(d, "domain.rng")));
const haveSchema = requireSystem(
  { pkg: "libvirt0", file: join(schemas ?? "/usr/share/libvirt/schemas", "domain.rng") },
  { pkg: "libxml2-utils", program: "xmllint" },
);

const dir = mkdtempSync(join(tmpdir(), "pvscsi-virsh-"));
function validate(xml: string): string {
  const f = join(dir, `d${Math.random().toString(36).slice(2)}.xml`);
  writeFileSync(f, xml);
  return execFileSync("xmllint", ["--noout", "--relaxng", join(schemas!, "domain.rng"), f], {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "pipe"],
  });
}

describe("virsh domxml-from-native / domxml-to-native xen-xl", () => {
  it("maps each vscsi entry to a hostdev: adapter + address from the pdev, drive address from the vdev", () => {
    const { text: xml } = domxmlFromNative(CFG, "web.cfg", inventory);
    expect(xml).toContain(
      "    <hostdev mode='subsystem' type='scsi'>\n" +
        "      <source>\n" +
        "        <adapter name='scsi_host0'/>\n" +
        "        <address bus='0' target='0' unit='0'/>\n" +
        "      </source>\n" +
        "      <address type='drive' controller='0' bus='0' target='0' unit='0'/>\n" +
        "    </hostdev>\n",
    );
    // The sharing rule gives <shareable/>; a CD-ROM is read-only; feature-host is sgio+rawio.
    expect(xml).toMatch(/<address bus='0' target='1' unit='0'\/>\n {6}<\/source>\n {6}<shareable\/>/);
    expect(xml).toContain("<hostdev mode='subsystem' type='scsi' sgio='unfiltered' rawio='yes'>");
    expect(xml).toMatch(
      /<adapter name='scsi_host1'\/>[\s\S]*?<readonly\/>[\s\S]*?controller='1' bus='0' target='0' unit='5'/,
    );
    expect(xml).toContain("<memory unit='KiB'>65536</memory>");
    // The forms the user wrote are kept in metadata, so the way back gives them back.
    expect(xml).toContain("<pvscsi:vscsi vdev='0:0:0:0' pdev='/dev/sda'/>");
  });

  it("round trips are lossless: cfg -> xml -> cfg, and xml -> cfg -> xml", () => {
    const xml = domxmlFromNative(CFG, "web.cfg", inventory).text;
    const cfg = domxmlToNative(xml, "web.xml", inventory);
    expect(cfg.warnings).toEqual([]);
    expect(cfg.text).toBe(CFG);
    expect(domxmlFromNative(cfg.text, "again.cfg", inventory).text).toBe(xml);
    // Offline, with h:c:t:l pdevs (what needs no host).
    const plain = "name = 'db'\nmemory = 32\nvscsi = [ '3:1:4:1,2:0:3:0', '3:1:4:2,2:0:3:1' ]\n";
    const x = domxmlFromNative(plain, "db.cfg", null).text;
    expect(domxmlToNative(x, "db.xml", null).text).toBe(plain);
    // munging=<policy> has no libvirt attribute: it travels in pvscsi's metadata.
    const munged = "name = 'db'\nmemory = 32\nvscsi = [ '3:1:4:1,2:0:3:0,munging=xenlinux' ]\n";
    const mx = domxmlFromNative(munged, "m.cfg", null).text;
    expect(mx).toMatch(/<pvscsi:vscsi [^>]*munging='xenlinux'/);
    expect(domxmlToNative(mx, "m.xml", null).text).toBe(munged);
  });

  it("accepts hand-written libvirt XML (other devices ignored with a warning, units, defaults)", () => {
    const xml = `<?xml version="1.0"?>
<!-- written by hand -->
<domain type="xen">
  <name>hand</name>
  <memory unit="MiB">48</memory>
  <devices>
    <disk type="file" device="disk"/>
    <hostdev mode="subsystem" type="scsi" sgio="unfiltered" rawio="yes">
      <source><adapter type="scsi_host" name="scsi_host0"/><address bus="0" target="0" unit="0"/></source>
      <address type="drive" controller="2" unit="4"/>
    </hostdev>
  </devices>
</domain>`;
    const r = domxmlToNative(xml, "hand.xml", inventory);
    expect(r.text).toBe("name = 'hand'\nmemory = 48\nvscsi = [ '0:0:0:0,2:0:0:4,feature-host' ]\n");
    expect(r.warnings).toEqual(["hand.xml:7: <disk> has no PVSCSI form; ignored"]);
  });

  it("refuses what the other side cannot express, naming the line", () => {
    const noHost = () => domxmlFromNative(CFG, "web.cfg", null);
    expect(noHost).toThrow(/web\.cfg:3: pdev '\/dev\/sda': libvirt's SCSI hostdev names a LUN by adapter/);
    expect(() => domxmlFromNative("name='x'\nvscsi=['0:0:0:0,0:0:100:0']\n", "x.cfg", inventory)).toThrow(
      /x\.cfg:2: vdev '0:0:100:0': libvirt's drive address allows controller, bus and target 0-99/,
    );
    const hd = (attrs: string, inner = "") =>
      `<domain type='xen'><name>x</name><devices><hostdev mode='subsystem' type='scsi' ${attrs}>` +
      `<source><adapter name='scsi_host0'/><address bus='0' target='0' unit='0'/></source>${inner}` +
      `<address type='drive' controller='0' bus='0' target='0' unit='0'/></hostdev></devices></domain>`;
    expect(() => domxmlToNative(hd("sgio='unfiltered'"), "a.xml", null)).toThrow(/give both or neither/);
    expect(() => domxmlToNative(hd("", "<shareable/>"), "a.xml", inventory)).toThrow(
      /a\.xml:1: <shareable\/>: 0:0:0:0 is not shareable on this host/,
    );
    expect(() => domxmlToNative(hd("", "<readonly/>"), "a.xml", inventory)).toThrow(
      /<readonly\/>: 0:0:0:0 is a writable disk; vscsi has no per-assignment read-only/,
    );
    expect(() => domxmlToNative("<domain type='kvm'><name>x</name></domain>", "k.xml", null)).toThrow(
      /k\.xml:1: <domain type='kvm'> is not a Xen domain/,
    );
    expect(() =>
      domxmlToNative(
        "<domain type='xen'><name>x</name><devices><hostdev mode='subsystem' type='scsi'><source protocol='iscsi' name='iqn.x/0'><host name='h'/></source></hostdev></devices></domain>",
        "i.xml",
        null,
      ),
    ).toThrow(/<source protocol='iscsi'> has no vscsi form/);
    expect(() => domxmlToNative("<domain type='xen'><name>x</name>", "t.xml", null)).toThrow(
      /t\.xml:1: XML: <domain> \(line 1\) is not closed/,
    );
    expect(() =>
      domxmlToNative("<!DOCTYPE x [<!ENTITY e SYSTEM 'file:///etc/passwd'>]><domain/>", "e.xml", null),
    ).toThrow(/DOCTYPE and other declarations are not accepted/);
  });

  it("the XML reader and writer agree with each other (entities, quotes)", () => {
    const e = parseXml(`<a x="1 &amp; 2" y='&apos;q&apos;'><b>&lt;t&gt;&#65;</b></a>`, "r.xml");
    expect(serializeXml(e)).toBe("<a x='1 &amp; 2' y='&apos;q&apos;'>\n  <b>&lt;t&gt;A</b>\n</a>\n");
  });

  describe.runIf(haveSchema)("against libvirt's RelaxNG schema (domain.rng)", () => {
    it("every XML we write validates", () => {
      expect(() => validate(domxmlFromNative(CFG, "web.cfg", inventory).text)).not.toThrow();
      expect(() =>
        validate(
          domxmlFromNative("name='db'\nvscsi=['2:3:4:5,99:99:99:65535,feature-host']\n", "d.cfg", null).text,
        ),
      ).not.toThrow();
    });

    it("and the schema really checks (a hostdev without its source is refused)", () => {
      const bad = domxmlFromNative(CFG, "web.cfg", inventory).text.replace(/<source>[\s\S]*?<\/source>/, "");
      expect(() => validate(bad)).toThrow();
    });
  });
});
