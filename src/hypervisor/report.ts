import { portEntry, statusOfWord } from "../evtchn/event-channels.js";
import type { DomainView } from "../xen/domain-view.js";
import { EVTCHNSTAT_interdomain, EVTCHNSTAT_unbound } from "../xen/evtchn-constants.js";
import { PORT_W_STATE, PORT_W_VCPU, portRemoteDomid, portRemotePort } from "../xen/evtchn-layout.js";
import {
  GNTTAB_NR_RESERVED_ENTRIES,
  GTF_permit_access,
  GTF_readonly,
  GTF_type_mask,
} from "../xen/grant-constants.js";
import {
  ACT_W_DOMID,
  ACT_W_PINS,
  ACTIVE_ENTRY_WORDS,
  GE_DOMID_SHIFT,
  GE_W_COMBO,
  GE_W_FRAME,
  GRANT_ENTRY_WORDS,
  MAPTRACK_ENTRY_WORDS,
  MT_READONLY,
  MT_W_DOMID,
  MT_W_REF,
  MT_W_STATE,
  MT_WRITABLE,
} from "../xen/grant-layout.js";

/** One of this domain's grants that another domain still has pinned (mapped, or mid-copy). */
export interface MappedGrant {
  readonly ref: number;
  /** The domain holding the pins. */
  readonly mapper: number;
  /** Pins in all (`GTF_reading` stays set while this is not 0). */
  readonly pins: number;
  /** Writable pins (`GTF_writing` stays set while this is not 0). */
  readonly writablePins: number;
}

/** A grant of another domain that this domain still has mapped. */
export interface HeldMapping {
  readonly handle: number;
  readonly granter: number;
  readonly ref: number;
  readonly readonly: boolean;
}

/** A grant-table entry that still permits access. */
export interface LiveGrant {
  readonly ref: number;
  /** The domain it permits (`grant_entry_v1.domid`). */
  readonly grantee: number;
  readonly frame: number;
  readonly readonly: boolean;
}

/** An event-channel port that is not closed. */
export interface BoundPort {
  readonly port: number;
  readonly status: "unbound" | "interdomain";
  /** Unbound: the domain allowed to bind; interdomain: the peer. */
  readonly remoteDomid: number;
  /** Interdomain: the peer's port; unbound: null. */
  readonly remotePort: number | null;
  readonly vcpu: number;
}

/**
 * What a domain has left behind, as data, so tests and the toolstack can assert that nothing
 * leaked (QEMU's and ocaml-vchan's tests check the same after every test).
 */
export interface DomainReport {
  readonly domid: number;
  readonly name: string;
  /** This domain's grants still pinned by others. */
  readonly mappedGrants: readonly MappedGrant[];
  /** Others' grants this domain still has mapped. */
  readonly heldMappings: readonly HeldMapping[];
  /** Entries from ref 8 on that still permit access. */
  readonly liveGrants: readonly LiveGrant[];
  /** Reserved entries (refs 0-7, e.g. the xenstore ring at ref 1) that still permit access. */
  readonly reservedGrants: readonly LiveGrant[];
  readonly boundPorts: readonly BoundPort[];
  /** True when mappedGrants, heldMappings, liveGrants and boundPorts are all empty. */
  readonly clean: boolean;
}

/** Read a domain's state into a report. Reads only; safe while the domain runs (a snapshot). */
export function inspectDomain(v: DomainView): DomainReport {
  const mappedGrants: MappedGrant[] = [];
  const liveGrants: LiveGrant[] = [];
  const reservedGrants: LiveGrant[] = [];
  for (let ref = 0; ref < v.grantEntries; ref++) {
    const a = v.layout.active + ref * ACTIVE_ENTRY_WORDS;
    const pins = Atomics.load(v.xen, a + ACT_W_PINS);
    if (pins !== 0) {
      mappedGrants.push({
        ref,
        mapper: Atomics.load(v.xen, a + ACT_W_DOMID),
        pins: pins & 0xffff,
        writablePins: pins >>> 16,
      });
    }
    const combo = Atomics.load(v.grantTable, ref * GRANT_ENTRY_WORDS + GE_W_COMBO);
    if ((combo & GTF_type_mask) === GTF_permit_access) {
      const g: LiveGrant = {
        ref,
        grantee: combo >>> GE_DOMID_SHIFT,
        frame: Atomics.load(v.grantTable, ref * GRANT_ENTRY_WORDS + GE_W_FRAME) >>> 0,
        readonly: (combo & GTF_readonly) !== 0,
      };
      (ref < GNTTAB_NR_RESERVED_ENTRIES ? reservedGrants : liveGrants).push(g);
    }
  }
  const heldMappings: HeldMapping[] = [];
  for (let h = 0; h < v.maptrackEntries; h++) {
    const e = v.layout.maptrack + h * MAPTRACK_ENTRY_WORDS;
    const state = Atomics.load(v.xen, e + MT_W_STATE);
    if (state !== MT_READONLY && state !== MT_WRITABLE) continue;
    heldMappings.push({
      handle: h,
      granter: Atomics.load(v.xen, e + MT_W_DOMID) & 0xffff,
      ref: Atomics.load(v.xen, e + MT_W_REF),
      readonly: state === MT_READONLY,
    });
  }
  const boundPorts: BoundPort[] = [];
  for (let port = 0; port < v.maxPorts; port++) {
    const w = Atomics.load(v.xen, portEntry(v, port) + PORT_W_STATE);
    const st = statusOfWord(w);
    if (st !== EVTCHNSTAT_unbound && st !== EVTCHNSTAT_interdomain) continue;
    boundPorts.push({
      port,
      status: st === EVTCHNSTAT_unbound ? "unbound" : "interdomain",
      remoteDomid: portRemoteDomid(w),
      remotePort: st === EVTCHNSTAT_interdomain ? portRemotePort(w) : null,
      vcpu: Atomics.load(v.xen, portEntry(v, port) + PORT_W_VCPU),
    });
  }
  return {
    domid: v.domid,
    name: v.name,
    mappedGrants,
    heldMappings,
    liveGrants,
    reservedGrants,
    boundPorts,
    clean:
      mappedGrants.length === 0 &&
      heldMappings.length === 0 &&
      liveGrants.length === 0 &&
      boundPorts.length === 0,
  };
}

/**
 * A report's leaks as lines a person reads (`xl destroy` prints them): one line per grant still
 * mapped or permitting access, mapping still held and port still bound; empty when clean.
 */
export function describeLeaks(r: DomainReport): string[] {
  const who = `dom${r.domid} (${r.name})`;
  const lines: string[] = [];
  for (const g of r.mappedGrants) {
    lines.push(
      `${who}: grant ref ${g.ref} is still mapped by dom${g.mapper} (${g.pins} pin(s), ${g.writablePins} writable)`,
    );
  }
  for (const m of r.heldMappings) {
    lines.push(
      `${who}: still maps grant ref ${m.ref} of dom${m.granter} (handle ${m.handle}, ${m.readonly ? "read-only" : "writable"})`,
    );
  }
  for (const g of r.liveGrants) {
    lines.push(
      `${who}: grant ref ${g.ref} still permits dom${g.grantee} ${g.readonly ? "read-only" : "writable"} access to frame ${g.frame}`,
    );
  }
  for (const p of r.boundPorts) {
    lines.push(
      p.status === "interdomain"
        ? `${who}: event channel port ${p.port} is still bound to dom${p.remoteDomid} port ${p.remotePort}`
        : `${who}: event channel port ${p.port} is still open (unbound, for dom${p.remoteDomid})`,
    );
  }
  return lines;
}
