/**
 * The leak check every test can end with, after ocaml-vchan's `In_memory.assert_cleaned_up`:
 * it throws one readable error naming every grant still mapped or permitted, every mapping still
 * held, every port still bound, and every unmap of a handle that was not mapped.
 * @module
 */
import { Hypervisor } from "../hypervisor/hypervisor.js";
import type { DomainReport } from "../hypervisor/report.js";
import { LocalSystem } from "../system/index.js";
import { FakeGuest } from "./fake-guest.js";

/** What {@link assertCleanedUp} can check. */
export type CleanupSubject = LocalSystem | Hypervisor | FakeGuest | DomainReport | readonly DomainReport[];

/** Thrown by {@link assertCleanedUp}; `leaks` has one line per thing left behind. */
export class LeakError extends Error {
  override readonly name = "LeakError";
  constructor(readonly leaks: readonly string[]) {
    super(`not cleaned up (${leaks.length}):\n  ${leaks.join("\n  ")}`);
  }
}

/**
 * Throw a {@link LeakError} listing whatever `subject` left behind; return quietly when nothing.
 *
 * - a `DomainReport` (e.g. from `destroyDomain`) or a list of them: each must be `clean` — no
 *   grant of the domain still mapped by another, no mapping held, no grant from ref 8 on still
 *   permitting access, no port bound;
 * - a `Hypervisor`: every live domain's report, as above;
 * - a `LocalSystem`: every live domain holds no mapping of another's grant and has none of its
 *   own grants mapped (its xenstore port and ring stay bound while it runs: destroy the guest and
 *   pass the report for the full check);
 * - a `FakeGuest`: no grant still live, no handle still mapped, no unmap of a handle that was not
 *   mapped (a double unmap, or an unmap of nothing).
 *
 * @example
 * ```ts
 * const report = sys.destroyGuest(domid);
 * assertCleanedUp(report);
 * ```
 */
export function assertCleanedUp(subject: CleanupSubject): void {
  const leaks: string[] = [];
  if (subject instanceof FakeGuest) {
    fakeGuestLeaks(subject, leaks);
  } else if (subject instanceof LocalSystem) {
    for (const r of subject.hv.reports()) crossDomainLeaks(r, leaks);
  } else if (subject instanceof Hypervisor) {
    for (const r of subject.reports()) reportLeaks(r, leaks);
  } else if (isReportList(subject)) {
    for (const r of subject) reportLeaks(r, leaks);
  } else {
    reportLeaks(subject, leaks);
  }
  if (leaks.length > 0) throw new LeakError(leaks);
}

function isReportList(s: DomainReport | readonly DomainReport[]): s is readonly DomainReport[] {
  return Array.isArray(s);
}

function who(r: DomainReport): string {
  return `dom${r.domid} (${r.name})`;
}

function crossDomainLeaks(r: DomainReport, leaks: string[]): void {
  for (const g of r.mappedGrants) {
    leaks.push(
      `${who(r)}: grant ref ${g.ref} still mapped by dom${g.mapper} (${g.pins} pins, ${g.writablePins} writable)`,
    );
  }
  for (const m of r.heldMappings) {
    leaks.push(
      `${who(r)}: still holds handle ${m.handle} mapping dom${m.granter}'s ref ${m.ref}${m.readonly ? " (read-only)" : ""}`,
    );
  }
}

function reportLeaks(r: DomainReport, leaks: string[]): void {
  crossDomainLeaks(r, leaks);
  for (const g of r.liveGrants) {
    leaks.push(
      `${who(r)}: grant ref ${g.ref} still permits dom${g.grantee} access to frame ${g.frame}${g.readonly ? " (read-only)" : ""}`,
    );
  }
  for (const p of r.boundPorts) {
    const peer =
      p.remotePort === null ? `dom${p.remoteDomid} may bind` : `dom${p.remoteDomid} port ${p.remotePort}`;
    leaks.push(`${who(r)}: port ${p.port} still ${p.status} (${peer})`);
  }
}

function fakeGuestLeaks(g: FakeGuest, leaks: string[]): void {
  for (const [ref, grant] of g.grants) {
    leaks.push(
      `guest: grant ref ${ref} of frame ${grant.frame} still live${grant.maps > 0 ? `, mapped ${grant.maps} times` : ""}`,
    );
  }
  for (const [handle, ref] of g.handles) leaks.push(`backend: handle ${handle} still maps ref ${ref}`);
  for (const handle of g.badUnmaps) leaks.push(`backend: unmapped handle ${handle}, which was not mapped`);
}
