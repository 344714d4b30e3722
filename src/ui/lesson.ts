import type { LocalSystem } from "../system/single-thread.js";
import type { Host } from "../toolstack/host.js";
import type { LiveControl } from "./controls.js";
import type { Observer, Snapshot } from "./observer.js";

/** What a lesson step may do to reach its paused state. */
export interface LessonApi {
  readonly sys: LocalSystem;
  readonly host: Host;
  readonly observer: Observer;
  control(c: LiveControl): Promise<void>;
  /** Step the machine until `done` holds (at most `max` core actions). */
  stepUntil(done: (s: Snapshot) => boolean, max?: number): Promise<void>;
  note(line: string): void;
}

/** One paused state of the guided lesson, with what to look at. */
export interface LessonStep {
  readonly title: string;
  readonly text: string;
  /** Bring the machine to the state this step explains (from wherever it is). */
  enter(api: LessonApi): Promise<void>;
}

const GUEST = `name = "learner"\nmemory = 16\nvscsi = [ '0:0:0:0,0:0:0:0' ]\n`;

async function ensureGuest(api: LessonApi): Promise<void> {
  if (api.host.list().some((d) => d.name === "learner")) return;
  // Creating a domain waits on real timers (libxl's timeouts) as well as on the machine: settle it.
  await api.sys.run(api.host.create(GUEST, "learner.cfg"));
}

async function settleRing(api: LessonApi): Promise<void> {
  await api.stepUntil((s) => {
    const r = s.ring;
    return r !== null && r.front.reqProdPvt === r.front.rspCons && r.shared.reqProd === r.front.rspCons;
  }, 2000);
}

const connected = (s: Snapshot) =>
  s.xenbus.some(
    (e) => e.lane === "frontend" && e.state === 4 && e.path.endsWith(`/vscsi/${s.ring?.devid ?? 0}/state`),
  );

/**
 * The guided lesson of `pvscsi ui --lesson`: the handshake, one request, completion, notification
 * suppression, wrap-around at 2^32, and hot-plug — each a paused state with a short explanation
 * of what is on screen.
 */
export const LESSON: readonly LessonStep[] = [
  {
    title: "1. The handshake",
    text:
      "xl create wrote the guest's device nodes; the frontend (scsifront) allocated a ring page, granted it to dom0, " +
      "allocated an event channel and wrote ring-ref and event-channel, then went Initialised (3). The backend " +
      "(scsiback) saw that through a watch, mapped the grant, bound the port and went Connected (4); the frontend " +
      "followed. Read the two xenbus lanes: every state change is a xenstore write, and the other side learns of it " +
      "from a watch firing.",
    async enter(api) {
      await ensureGuest(api);
      await api.stepUntil(connected, 500);
    },
  },
  {
    title: "2. One request",
    text:
      "The guest queued one READ(10): scsifront took the lowest free rqid, granted the data page to dom0 and wrote the " +
      "request into slot req_prod_pvt & 15, then pushed: req_prod moved, and since req_event lay in (old, new] it " +
      "notified dom0 — see the notification line's arithmetic. The slot is 'published': the backend has not consumed it yet. " +
      "Look at the request's 252 bytes: rqid, act, cmd_len, the CDB (28 …), one segment with the grant ref.",
    async enter(api) {
      await ensureGuest(api);
      await settleRing(api);
      api.observer.reset();
      await api.control({ action: "reads", count: 1, depth: 1 });
      await api.stepUntil((s) => s.ring?.slots.some((x) => x.state === "published") === true, 200);
    },
  },
  {
    title: "3. Served and completed",
    text:
      "dom0 consumed the request (req_cons), mapped the grant (the grant shows 'reading'/'writing' and a pin), ran " +
      "the READ on the disk, unmapped, and wrote a response at rsp_prod_pvt, then pushed rsp_prod and notified the " +
      "guest because rsp_event asked for it. The guest consumed the response (rsp_cons), ended access to the grant " +
      "(allowed now: nothing maps it) and re-armed rsp_event = rsp_cons + 1 (RING_FINAL_CHECK_FOR_RESPONSES).",
    async enter(api) {
      await ensureGuest(api);
      await settleRing(api);
    },
  },
  {
    title: "4. Notification suppression",
    text:
      "Sixteen reads at once: the frontend pushes several requests between notifications, and the backend asks " +
      "to be notified only when it is about to sleep (req_event = req_cons + 1 after its final check). A push " +
      "notifies only if (new − event) < (new − old) as u32 — count how many pushes were suppressed: that is the " +
      "point of the event indices.",
    async enter(api) {
      await ensureGuest(api);
      await settleRing(api);
      api.observer.reset();
      await api.control({ action: "reads", count: 32, depth: 16 });
      await api.stepUntil(
        (s) => s.notifyCounts.requests.suppressed + s.notifyCounts.responses.suppressed > 0,
        400,
      );
    },
  },
  {
    title: "5. Wrap-around at 2³²",
    text:
      "Every index was moved to 2³² − 5 while the ring was idle, and eight reads went through. The indices are free-running " +
      "u32 counters: they wrapped past 0 and nothing broke, because a slot is index & 15 and every comparison is a " +
      "u32 distance — the invariant line shows those distances. Compare each index's raw value with its slot.",
    async enter(api) {
      await ensureGuest(api);
      await settleRing(api);
      await api.control({ action: "wrap" });
      api.observer.reset();
      await api.control({ action: "reads", count: 8, depth: 4 });
      await api.stepUntil(
        (s) => (s.ring?.front.rspCons ?? 0) >= 3 && (s.ring?.front.rspCons ?? 0) < 1000,
        600,
      );
    },
  },
  {
    title: "6. Hot-plug (state 7)",
    text:
      "xl scsi-attach added a second LUN to the running controller: the toolstack wrote a new vscsi-devs/dev-N entry " +
      "and switched the backend to Reconfiguring (7); scsiback checked the new device and went Reconfigured (8); " +
      "the frontend added the LUN (scsi_add_device) and both returned to Connected. Follow it in the lanes.",
    async enter(api) {
      await ensureGuest(api);
      await settleRing(api);
      api.observer.reset();
      await api.control({ action: "plug" });
      await api.stepUntil(
        (s) =>
          s.xenbus.some((e) => e.lane === "backend" && e.state === 8) &&
          s.log.some((l) => /scsi-attach.*done|failed/.test(l)),
        3000,
      );
    },
  },
];
