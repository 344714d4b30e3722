import { describe, expect, it } from "vitest";
import { fromNumber, parseVdev, vdevName } from "../../src/blkif/vdev.js";
import { parseDiskSpec } from "../../src/toolstack/disk-spec.js";

describe("virtual device numbers (docs/misc/vbd-interface.txt)", () => {
  it("xvdX, hdX, sdX, dN and extended numbers", () => {
    expect(parseVdev("xvda")?.number).toBe(51712);
    expect(parseVdev("xvdb")?.number).toBe(51728);
    expect(parseVdev("xvdp")?.number).toBe((202 << 8) | (15 << 4));
    expect(parseVdev("xvdq")?.number).toBe((1 << 28) | (16 << 8));
    expect(parseVdev("xvdaa")?.number).toBe((1 << 28) | (26 << 8));
    expect(parseVdev("hda")?.number).toBe(3 << 8);
    expect(parseVdev("hdc")?.number).toBe(22 << 8);
    expect(parseVdev("sdb")?.number).toBe((8 << 8) | 16);
    expect(parseVdev("d3")?.number).toBe(51712 + 48);
    expect(parseVdev("xvdb3")).toEqual({ disk: 1, partition: 3, number: 51731 });
    for (const bad of ["xvd", "vda", "xvdA", "hde", "d", ""]) expect(parseVdev(bad), bad).toBeNull();
  });

  it("numbers map back to the names blkfront gives", () => {
    for (const n of ["xvda", "xvdp", "xvdq", "xvdzz", "d100"]) {
      const v = parseVdev(n)!;
      expect(vdevName(fromNumber(v.number)!)).toBe(n.startsWith("d") ? "xvdcw" : n);
    }
    expect(vdevName(fromNumber(22 << 8)!)).toBe("xvdc");
    expect(fromNumber(7 << 8)).toBeNull();
  });
});

describe("xl's disk spec (docs/misc/xl-disk-configuration.txt)", () => {
  const norm = (s: string) => {
    const d = parseDiskSpec(s, "t");
    return [d.target, d.vdev.number, d.readonly, d.cdrom];
  };
  it("the document's equivalent forms parse the same", () => {
    const a = [
      "/dev/vg/guest-volume,,hda",
      "/dev/vg/guest-volume,raw,hda,rw",
      "format=raw, vdev=hda, access=rw, target=/dev/vg/guest-volume",
      "raw:/dev/vg/guest-volume,hda,w",
    ];
    for (const s of a) expect(norm(s), s).toEqual(["/dev/vg/guest-volume", 3 << 8, false, false]);
    const b = [
      "/root/image.iso,,hdc,cdrom",
      "/root/image.iso,,hdc,,cdrom",
      "/root/image.iso,raw,hdc,devtype=cdrom",
      "format=raw, vdev=hdc, access=ro, devtype=cdrom, target=/root/image.iso",
      "raw:/root/image.iso,hdc:cdrom,ro",
    ];
    for (const s of b) expect(norm(s), s).toEqual(["/root/image.iso", 22 << 8, true, true]);
  });

  it("target= takes the rest, commas included; backend= names a driver domain", () => {
    expect(parseDiskSpec("vdev=xvdb, backend=dd, target=/a,b", "t")).toMatchObject({
      target: "/a,b",
      backend: "dd",
    });
  });

  it("refuses what it cannot do, naming the spec", () => {
    expect(() => parseDiskSpec("/x,qcow2,xvda", "cfg:3")).toThrow(/cfg:3.*format 'qcow2' is not supported/);
    expect(() => parseDiskSpec("/x,,xvda,rw,extra", "t")).toThrow(/too many positional/);
    expect(() => parseDiskSpec("/x,,xvda,rx", "t")).toThrow(/access 'rx'/);
    expect(() => parseDiskSpec("/x,,vda", "t")).toThrow(/invalid vdev 'vda'/);
    expect(() => parseDiskSpec("vdev=xvda", "t")).toThrow(/no target/);
    expect(() => parseDiskSpec("/x", "t")).toThrow(/no vdev/);
    expect(() => parseDiskSpec("/x,,xvda,vdev=xvdb", "t")).toThrow(/'vdev' given twice/);
    expect(() => parseDiskSpec("/x,,xvda,colour=red", "t")).toThrow(/unknown parameter 'colour'/);
  });
});
