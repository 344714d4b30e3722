/**
 * The hostile frontend attacks pvscsi's own scsiback beside honest guests: every attack class is
 * exercised (the backend's own counters show it), no invariant of the honest guests breaks, the
 * backend answers without leaking bytes (XSA-216) and holds nothing once the attacker is gone.
 */
import { describe, expect, it } from "vitest";
import { Chooser } from "../../src/sim/chooser.js";
import {
  ATTACK_CLASSES,
  type AttackClass,
  BACK_ATTACK_CLASSES,
  responseLeak,
} from "../../src/sim/hostile.js";
import { SCENARIOS } from "../../src/sim/scenario.js";
import { World } from "../../src/sim/world.js";

const SEEDS = 12;

function runAttack(a: AttackClass, seed: number): World {
  const w = new World({ ...SCENARIOS["hostile-frontend"]!, hostile: [a] }, Chooser.seeded(seed), {
    trace: false,
  });
  w.run(); // throws a SimViolation naming the invariant
  return w;
}

describe("hostile frontend against scsiback", () => {
  for (const a of ATTACK_CLASSES) {
    it(`${a}: honest guests unaffected, attacker cleaned up`, () => {
      let rejected = 0;
      let halted = 0;
      let responses = 0;
      for (let seed = 1; seed <= SEEDS; seed++) {
        const w = runAttack(a, seed);
        const v = w.guests[0]!.vhost;
        rejected += Object.values(v.stats.rejected).reduce((x, y) => x + y, 0);
        responses += v.stats.responses;
        if (v.state === "halted") halted++;
      }
      expect(responses + halted).toBeGreaterThan(0);
      if (a === "ring-overflow") expect(halted).toBeGreaterThan(0);
      if (a === "xsa-362-grant-map-errors" || a === "bad-segments" || a === "xsa-332-event-storm") {
        expect(rejected).toBeGreaterThan(0);
      }
    });
  }

  it("the padding check catches a response that leaks", () => {
    const b = new Uint8Array(252);
    expect(responseLeak(b, 0)).toBeNull();
    b[3] = 4; // sense_len 4
    b[4 + 3] = 9;
    expect(responseLeak(b, 0)).toBeNull();
    b[4 + 4] = 1;
    expect(responseLeak(b, 0)).toMatch(/sense byte 4/);
    b[4 + 4] = 0;
    b[200] = 1;
    expect(responseLeak(b, 0)).toMatch(/reserved byte/);
  });
});

describe("hostile backend against scsifront", () => {
  const fails: Record<string, string> = {
    "bad-rqid": "illegal rqid returned by backend!",
    "keep-mapped": "grant still in use by backend",
    "rsp-prod-overflow": "illegal number of responses",
  };
  for (const a of BACK_ATTACK_CLASSES) {
    it(`${a}: scsifront completes each command once or fails its host, and the other guest is unaffected`, () => {
      const reasons = new Set<string>();
      for (let seed = 1; seed <= SEEDS; seed++) {
        const w = new World({ ...SCENARIOS["hostile-backend"]!, hostileBackend: [a] }, Chooser.seeded(seed), {
          trace: false,
        });
        w.run(); // exactly-once, canaries and the honest guest's invariants hold, or this throws
        const f = w.guests[0]!.front;
        if (f.errorReason !== null) reasons.add(f.errorReason);
        expect(w.guests[1]!.front.state).toBe("disconnected"); // torn down cleanly after the drain
      }
      if (fails[a] !== undefined) expect([...reasons]).toContain(fails[a]);
    });
  }
});
