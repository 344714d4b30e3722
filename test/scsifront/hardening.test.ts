import { describe, expect, it } from "vitest";
import { BackRing } from "../../src/ring/back-ring.js";
import { SharedRing } from "../../src/ring/shared-ring.js";
import { FrontCommand, Frontend } from "../../src/scsifront/frontend.js";
import { DID_ERROR } from "../../src/scsifront/host-byte.js";
import { FakeGuest } from "../../src/testing/index.js";
import { VscsiifRequest } from "../../src/vscsiif/request.js";
import { VscsiifResponse } from "../../src/vscsiif/response.js";
import { VSCSIIF_ENTRY_SIZE } from "../../src/xen/vscsiif-layout.js";

/** A frontend facing a hand-driven (possibly hostile) backend. */
function setup() {
  const guest = new FakeGuest(256);
  const frame = guest.allocFrame();
  const sring = new SharedRing(guest.bytes.buffer, frame * 4096, 4096, VSCSIIF_ENTRY_SIZE);
  let notified = 0;
  const front = new Frontend({
    backendDomid: 0,
    memory: guest,
    grants: guest,
    notifier: { notify: () => notified++ },
  });
  front.connect(sring);
  const back = BackRing.init(sring);
  const req = new VscsiifRequest();
  const rsp = new VscsiifResponse();
  const done: FrontCommand[] = [];
  const submit = (dataPages = 0) => {
    const c = new FrontCommand();
    c.setCdb([0x28, 0, 0, 0, 0, 0, 0, 0, 1, 0]);
    if (dataPages > 0) {
      c.direction = 2;
      for (let i = 0; i < dataPages; i++) c.frames[i] = guest.allocFrame();
      c.frameCount = dataPages;
      c.length = dataPages * 4096;
    }
    c.onComplete = (x) => done.push(x);
    expect(front.submit(c)).toBe("queued");
    front.flush();
    return c;
  };
  const answer = (rqid: number, rslt = 0) => {
    rsp.clear();
    rsp.rqid = rqid;
    rsp.rslt = rslt;
    rsp.writeTo(back);
    back.pushResponses();
  };
  return { guest, front, back, req, answer, submit, done, sring, notified: () => notified };
}

describe("scsifront hardening against a misbehaving backend", () => {
  it("rqid is the lowest free slot, reused as soon as it is freed", () => {
    const t = setup();
    const a = t.submit();
    const b = t.submit();
    const c = t.submit();
    expect([a.rqid, b.rqid, c.rqid]).toEqual([0, 1, 2]);
    t.answer(1);
    t.front.service();
    expect(t.submit().rqid).toBe(1);
  });

  it("a response for an rqid not in flight puts the host in the error state", () => {
    const t = setup();
    const a = t.submit();
    t.answer(7);
    t.front.service();
    expect(t.front.state).toBe("error");
    expect(t.front.errorReason).toBe("illegal rqid returned by backend!");
    // The command in flight is failed rather than left hanging; new ones are refused.
    expect(a.host).toBe(DID_ERROR);
    expect(t.done).toEqual([a]);
    expect(t.front.submit(new FrontCommand())).toBe("error");
  });

  it("an rqid beyond the 16 slots is an error too", () => {
    const t = setup();
    t.submit();
    t.answer(16);
    t.front.service();
    expect(t.front.state).toBe("error");
  });

  it("a response answered twice is an error, not a second completion", () => {
    const t = setup();
    const a = t.submit();
    t.answer(0);
    t.answer(0);
    t.front.service();
    expect(t.done).toEqual([a]);
    expect(t.front.state).toBe("error");
  });

  it("rsp_prod claiming more responses than the ring holds → error state, nothing consumed", () => {
    const t = setup();
    t.submit();
    t.sring.rspProd = 17;
    expect(t.front.service()).toBe(0);
    expect(t.front.state).toBe("error");
    expect(t.front.errorReason).toBe("illegal number of responses");
  });

  it("a grant still mapped by the backend at completion → error state (XSA-396)", () => {
    const t = setup();
    const c = t.submit(1);
    const mapper = t.guest.mapper();
    const ref = [...t.guest.grants.keys()][0]!;
    mapper.map(ref, false, { mem: new Uint8Array(0), base: 0, handle: -1 });
    t.answer(c.rqid);
    t.front.service();
    expect(t.front.state).toBe("error");
    expect(t.front.errorReason).toBe("grant still in use by backend");
    expect(t.guest.grants.has(ref)).toBe(true); // not reused while the backend holds it
  });

  it("host codes 16-19 and unknown ones become DID_ERROR; 0-15 and 20 pass through", () => {
    const t = setup();
    const results: number[] = [];
    for (const host of [0, 5, 15, 16, 19, 20, 21, 200]) {
      const c = t.submit();
      t.answer(c.rqid, host << 16);
      t.front.service();
      results.push(c.host);
    }
    expect(results).toEqual([0, 5, 15, 7, 7, 20, 7, 7]);
  });

  it("bits 8-15 and 24-31 of rslt (old driver bytes) are ignored", () => {
    const t = setup();
    const c = t.submit();
    t.answer(c.rqid, 0x08000002 | 0x0100);
    t.front.service();
    expect([c.host, c.status]).toEqual([0, 2]);
  });

  it("re-arms rsp_event after draining; runs the final check while requests are outstanding", () => {
    const t = setup();
    const a = t.submit();
    t.submit();
    t.answer(a.rqid);
    t.front.service();
    expect(t.sring.rspEvent).toBe(2); // final check: rsp_cons + 1 with one still outstanding
  });

  it("more pages than sg_tablesize fail at once with DID_ERROR, without touching the ring", () => {
    const t = setup();
    const c = new FrontCommand(64);
    c.setCdb([0x28, 0, 0, 0, 0, 0, 0, 0, 1, 0]);
    c.direction = 2;
    c.frameCount = 27;
    c.length = 27 * 4096;
    let host = -1;
    c.onComplete = (x) => {
      host = x.host;
    };
    expect(t.front.submit(c)).toBe("queued");
    expect(host).toBe(DID_ERROR);
    expect(t.sring.reqProd).toBe(0);
  });
});
