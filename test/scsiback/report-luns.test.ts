import { describe, expect, it } from "vitest";
import { DataBuffer } from "../../src/scsi/data-buffer.js";
import { type DeviceInfo, TYPE_DISK } from "../../src/scsi/device.js";
import { REPORTED_LUNS_DATA_HAS_CHANGED } from "../../src/scsi/sense.js";
import { Disk } from "../../src/targets/sbc/disk.js";
import { RawFront } from "../../src/testing/index.js";
import { TestDisk } from "../_support/test-disk.js";

const INFO: DeviceInfo = {
  type: TYPE_DISK,
  vendor: "PVSCSI",
  product: "RAMDISK",
  revision: "0001",
  scsiLevel: 5,
  removable: false,
  serial: "SN1",
  wwn: "3000000000000001",
};

function reportLuns(f: RawFront, chn: number, tgt: number, lun: number, alloc = 4096, select = 0) {
  const frame = f.guest.allocFrame();
  f.guest.bytes.fill(0xee, frame * 4096, frame * 4096 + 4096);
  const ref = f.guest.grantAccess(frame, false);
  const [r] = f.send((q) => {
    Object.assign(q, { channel: chn, id: tgt, lun, scDataDirection: 2, nrSegments: 1 });
    q.setCdb(
      Uint8Array.of(
        0xa0,
        0,
        select,
        0,
        0,
        0,
        alloc >>> 24,
        (alloc >>> 16) & 255,
        (alloc >>> 8) & 255,
        alloc & 255,
        0,
        0,
      ),
    );
    q.setSeg(0, ref, 0, 4096);
  });
  return { r: r!, data: f.guest.bytes.subarray(frame * 4096, frame * 4096 + 4096) };
}

describe("REPORT LUNS", () => {
  it("without feature-host: only this vhost's LUNs at that channel/target, in guest numbering", () => {
    const f = new RawFront();
    const disk = new TestDisk();
    f.attach(0, 1, 0, disk, 4);
    f.attach(0, 1, 3, disk, 9);
    f.attach(0, 1, 300, disk, 5);
    f.attach(0, 2, 1, disk, 1); // another target: not listed
    const { r, data } = reportLuns(f, 0, 1, 0);
    expect(r.rslt).toBe(0);
    expect(Array.from(data.subarray(0, 32))).toEqual([
      0, 0, 0, 24, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0x41, 0x2c, 0, 0, 0, 0, 0, 0,
    ]);
    expect(r.residual).toBe(4096 - 32);
    expect(data[32]).toBe(0xee);
    expect(disk.seen).toEqual([]); // answered by the backend, not the device
  });

  it("is answered at an unattached LUN of a target that has LUNs; elsewhere HOST_NO_CONNECT", () => {
    const f = new RawFront();
    f.attach(0, 1, 3, new TestDisk());
    expect(reportLuns(f, 0, 1, 0).r.rslt).toBe(0);
    expect(reportLuns(f, 0, 5, 0).r.rslt).toBe(0x00010000);
  });

  it("allocation length below 16 and SELECT REPORT above 2 are INVALID FIELD IN CDB, with no data", () => {
    const f = new RawFront();
    f.attach(0, 0, 0, new TestDisk());
    for (const [alloc, select, fieldByte] of [
      [15, 0, 6],
      [4096, 3, 2],
    ] as const) {
      const { r, data } = reportLuns(f, 0, 0, 0, alloc, select);
      expect(r.rslt).toBe(2);
      expect(r.sense.slice(0, 18)).toEqual([
        0x70,
        0,
        5,
        0,
        0,
        0,
        0,
        10,
        0,
        0,
        0,
        0,
        0x24,
        0,
        0,
        0xc8 | 7,
        0,
        fieldByte,
      ]);
      expect(data[0]).toBe(0xee);
      expect(r.residual).toBe(4096);
    }
  });

  it("SELECT REPORT 1 (well-known LUNs only) lists none; truncation honours the allocation length", () => {
    const f = new RawFront();
    f.attach(0, 0, 0, new TestDisk());
    f.attach(0, 0, 1, new TestDisk());
    expect(Array.from(reportLuns(f, 0, 0, 0, 4096, 1).data.subarray(0, 8))).toEqual([0, 0, 0, 0, 0, 0, 0, 0]);
    const { r, data } = reportLuns(f, 0, 0, 0, 20);
    expect(r.residual).toBe(4096 - 20);
    expect(Array.from(data.subarray(0, 21))).toEqual([
      0, 0, 0, 16, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0xee,
    ]);
  });

  it("with feature-host the CDB passes through to the device untouched", () => {
    const f = new RawFront({ featureHost: true });
    const disk = new TestDisk();
    const submitted: number[][] = [];
    const real = disk.submit.bind(disk);
    disk.submit = (t) => {
      submitted.push(Array.from(t.cdb));
      real(t);
    };
    f.attach(0, 0, 0, disk);
    const { r } = reportLuns(f, 0, 0, 0);
    expect(submitted).toEqual([[0xa0, 0, 0, 0, 0, 0, 0, 0, 16, 0, 0, 0]]);
    expect(r.rslt).toBe(2); // the test disk does not implement it
    void DataBuffer;
  });
});

describe("REPORT LUNS emulation conformance (SPC-4 §6.33)", () => {
  it("allocation length 8k+1 with a LUN ≥ 256: the prefix of the full list, the last byte the next entry's first", () => {
    const f = new RawFront();
    const disk = new TestDisk();
    f.attach(0, 0, 0, disk);
    f.attach(0, 0, 300, disk, 1); // flat space addressing: first byte 0x41
    for (const k of [2, 3]) {
      const alloc = 8 * k + 1;
      const { r, data } = reportLuns(f, 0, 0, 0, Math.max(16, alloc));
      const full = [0, 0, 0, 16, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x41, 0x2c, 0, 0, 0, 0, 0, 0];
      const n = Math.min(alloc, full.length);
      expect(r.rslt).toBe(0);
      expect(r.residual).toBe(4096 - n);
      expect(Array.from(data.subarray(0, n)), `alloc ${alloc}`).toEqual(full.slice(0, n));
    }
  });

  it("clears 06/3F/0E REPORTED LUNS DATA HAS CHANGED for the vhost's nexus, without feature-host too", () => {
    const tur = (f: RawFront) => f.send((q) => q.setCdb(Uint8Array.of(0, 0, 0, 0, 0, 0)))[0]!;
    for (const featureHost of [false, true]) {
      const f = new RawFront({ featureHost });
      const d = Disk.ram(INFO, 64);
      d.addNexus(f.back.initiator);
      f.attach(0, 0, 0, d);
      expect(tur(f).sense.slice(12, 14)).toEqual([0x29, 0x00]); // the nexus's power-on UA
      d.queueUaAll(REPORTED_LUNS_DATA_HAS_CHANGED);
      expect(reportLuns(f, 0, 0, 0).r.rslt).toBe(0);
      expect(tur(f).rslt, `feature-host ${featureHost}`).toBe(0);
      // Control: without REPORT LUNS in between, the condition is reported.
      d.queueUaAll(REPORTED_LUNS_DATA_HAS_CHANGED);
      expect(tur(f).sense.slice(12, 14)).toEqual([0x3f, 0x0e]);
    }
  });
});
