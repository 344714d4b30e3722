import { describe, expect, it } from "vitest";
import { RawFront } from "../../src/testing/index.js";
import {
  VSCSIIF_ACT_SCSI_ABORT,
  VSCSIIF_ACT_SCSI_RESET,
  VSCSIIF_ACT_SCSI_SG_PRESET,
  VSCSIIF_SG_GRANT,
} from "../../src/vscsiif/constants.js";
import { TestDisk } from "../_support/test-disk.js";

const DID_ERROR = 0x00070000;
const DID_NO_CONNECT = 0x00010000;
const TUR = [0, 0, 0, 0, 0, 0];

function setup() {
  const f = new RawFront();
  const disk = new TestDisk();
  f.attach(0, 1, 2, disk);
  return { f, disk };
}

describe("scsiback answers a bad request with Linux's result code and runs nothing", () => {
  it("sc_data_direction outside 0..3 → HOST_ERROR", () => {
    const { f, disk } = setup();
    const [r] = f.send((q) => Object.assign(q, { rqid: 3, id: 1, lun: 2, scDataDirection: 4 }));
    expect(r).toEqual({ rqid: 3, rslt: DID_ERROR, senseLen: 0, sense: [], residual: 0 });
    expect(disk.seen).toEqual([]);
  });

  it("cmd_len above 16 → HOST_ERROR; cmd_len 0 is accepted", () => {
    const { f, disk } = setup();
    expect(f.send((q) => Object.assign(q, { rqid: 1, id: 1, lun: 2, cmdLen: 17 }))[0]!.rslt).toBe(DID_ERROR);
    // cmd_len 0 has no lower bound in Linux: the (empty) CDB reaches the device, which refuses it.
    const [r] = f.send((q) => Object.assign(q, { rqid: 2, id: 1, lun: 2, cmdLen: 0 }));
    expect(disk.seen).toEqual([-1]);
    expect(r!.rslt).toBe(0x02);
  });

  it("an unknown (channel, id, lun) → HOST_NO_CONNECT, whatever the act", () => {
    const { f } = setup();
    for (const act of [1, VSCSIIF_ACT_SCSI_ABORT, VSCSIIF_ACT_SCSI_RESET, 9]) {
      const [r] = f.send((q) => {
        Object.assign(q, { rqid: 5, act, channel: 0, id: 1, lun: 3 });
        q.setCdb(Uint8Array.from(TUR));
      });
      expect(r!.rslt).toBe(DID_NO_CONNECT);
    }
  });

  it("direction and cmd_len are checked before translation, as in Linux", () => {
    const { f } = setup();
    expect(f.send((q) => Object.assign(q, { id: 9, scDataDirection: 200 }))[0]!.rslt).toBe(DID_ERROR);
    expect(f.send((q) => Object.assign(q, { id: 9, cmdLen: 99 }))[0]!.rslt).toBe(DID_ERROR);
  });

  it("act 4 (deprecated SG_PRESET) and unknown acts → HOST_ERROR", () => {
    const { f, disk } = setup();
    for (const act of [0, VSCSIIF_ACT_SCSI_SG_PRESET, 5, 255]) {
      expect(f.send((q) => Object.assign(q, { act, id: 1, lun: 2 }))[0]!.rslt).toBe(DID_ERROR);
    }
    expect(disk.seen).toEqual([]);
    expect(f.back.stats.rejected["invalid-act"]).toBe(4);
  });

  describe("segments", () => {
    it("more than 26 direct segments → HOST_ERROR", () => {
      const { f, disk } = setup();
      const [r] = f.send((q) => {
        Object.assign(q, { id: 1, lun: 2, scDataDirection: 2, nrSegments: 27 });
        q.setCdb(Uint8Array.of(0x28, 0, 0, 0, 0, 0, 0, 0, 1, 0));
      });
      expect(r!.rslt).toBe(DID_ERROR);
      expect(disk.seen).toEqual([]);
    });

    it("a data segment past its page's end → HOST_ERROR, nothing left mapped", () => {
      const { f } = setup();
      const frame = f.guest.allocFrame();
      const ok = f.guest.grantAccess(frame, false);
      const [r] = f.send((q) => {
        Object.assign(q, { id: 1, lun: 2, scDataDirection: 2, nrSegments: 2 });
        q.setCdb(Uint8Array.of(0x28, 0, 0, 0, 0, 0, 0, 0, 2, 0));
        q.setSeg(0, ok, 0, 512);
        q.setSeg(1, ok, 4000, 512);
      });
      expect(r!.rslt).toBe(DID_ERROR);
      expect(f.mapper.mapped()).toBe(0);
    });

    it("a grant the backend cannot map → HOST_ERROR, earlier maps undone", () => {
      const { f } = setup();
      const frame = f.guest.allocFrame();
      const good = f.guest.grantAccess(frame, false);
      const [r] = f.send((q) => {
        Object.assign(q, { id: 1, lun: 2, scDataDirection: 2, nrSegments: 2 });
        q.setCdb(Uint8Array.of(0x28, 0, 0, 0, 0, 0, 0, 0, 2, 0));
        q.setSeg(0, good, 0, 512);
        q.setSeg(1, 0xdead, 0, 512);
      });
      expect(r!.rslt).toBe(DID_ERROR);
      expect(f.mapper.mapped()).toBe(0);
      expect(f.back.stats.rejected["grant-map-failed"]).toBe(1);
    });

    it("data-in into a read-only grant is refused by the map → HOST_ERROR", () => {
      const { f } = setup();
      const ro = f.guest.grantAccess(f.guest.allocFrame(), true);
      const [r] = f.send((q) => {
        Object.assign(q, { id: 1, lun: 2, scDataDirection: 2, nrSegments: 1 });
        q.setCdb(Uint8Array.of(0x28, 0, 0, 0, 0, 0, 0, 0, 1, 0));
        q.setSeg(0, ro, 0, 512);
      });
      expect(r!.rslt).toBe(DID_ERROR);
    });

    it("indirect pages: length not a multiple of 8, or past the page → HOST_ERROR", () => {
      const { f } = setup();
      const page = f.guest.grantAccess(f.guest.allocFrame(), true);
      for (const [off, len] of [
        [0, 12],
        [4088, 16],
      ] as const) {
        const [r] = f.send((q) => {
          Object.assign(q, { id: 1, lun: 2, scDataDirection: 2, nrSegments: VSCSIIF_SG_GRANT | 1 });
          q.setCdb(Uint8Array.of(0x28, 0, 0, 0, 0, 0, 0, 0, 1, 0));
          q.setSeg(0, page, off, len);
        });
        expect(r!.rslt).toBe(DID_ERROR);
      }
    });

    it("indirect descriptors beyond feature-sg-grant (128) → HOST_ERROR", () => {
      const { f } = setup();
      const a = f.guest.grantAccess(f.guest.allocFrame(), true);
      const b = f.guest.grantAccess(f.guest.allocFrame(), true);
      const [r] = f.send((q) => {
        Object.assign(q, { id: 1, lun: 2, scDataDirection: 2, nrSegments: VSCSIIF_SG_GRANT | 2 });
        q.setCdb(Uint8Array.of(0x28, 0, 0, 0, 0, 0, 0, 0, 1, 0));
        q.setSeg(0, a, 0, 4096); // 512 descriptors
        q.setSeg(1, b, 0, 8);
      });
      expect(r!.rslt).toBe(DID_ERROR);
      expect(f.mapper.mapped()).toBe(0);
    });

    it("indirect descriptors are read once: the guest changing them afterwards has no effect", () => {
      const { f, disk } = setup();
      const dataFrame = f.guest.allocFrame();
      const data = f.guest.grantAccess(dataFrame, false);
      const descFrame = f.guest.allocFrame();
      const desc = f.guest.grantAccess(descFrame, true);
      const view = new DataView(f.guest.bytes.buffer, descFrame * 4096, 8);
      view.setUint32(0, data, true);
      view.setUint16(4, 0, true);
      view.setUint16(6, 512, true);
      disk.hold = true;
      f.queue((q) => {
        Object.assign(q, { rqid: 4, id: 1, lun: 2, scDataDirection: 2, nrSegments: VSCSIIF_SG_GRANT | 1 });
        q.setCdb(Uint8Array.of(0x28, 0, 0, 0, 0, 0, 0, 0, 1, 0));
        q.setSeg(0, desc, 0, 8);
      });
      f.kick();
      view.setUint16(6, 4096, true); // too late
      disk.store.fill(0x5a, 0, 512);
      disk.release();
      const [r] = f.responses();
      expect([r!.rslt, r!.residual]).toEqual([0, 0]);
      expect(f.guest.bytes[dataFrame * 4096 + 511]).toBe(0x5a);
      expect(f.guest.bytes[dataFrame * 4096 + 512]).toBe(0);
    });
  });
});
