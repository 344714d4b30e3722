import type { BackendKernelApi, GuestKernelApi } from "../system/kernel-api.js";
import type { RunningKernel } from "../system/system.js";
import type { LsscsiRow } from "../targets/inventory/inventory.js";
import type { DomainHandle } from "../xen/domain-handle.js";
import { configError, invalidState, PvscsiError } from "../xen/errors.js";

/** A domain the toolstack built, with its running kernel. */
export interface ToolstackDomain<Api> {
  readonly handle: DomainHandle;
  readonly name: string;
  readonly memoryMiB: number;
  readonly kernel: RunningKernel<Api>;
}

/** A guest: its kernel runs scsifront; its files live under `guestRoot` (dom0's folder). */
export interface GuestDomain extends ToolstackDomain<GuestKernelApi> {
  readonly guestRoot: string;
}

/** dom0 or a driver domain: a kernel running scsiback over its own physical SCSI inventory. */
export interface BackendDomain extends ToolstackDomain<BackendKernelApi> {
  /** Its units as `lsscsi` lists them; replaced after a rescan adds or removes some. */
  inventory: readonly LsscsiRow[];
}

/**
 * The domains the toolstack knows (libxl reads them back from xenstore and the hypervisor; here
 * they are kept): the backend domains (dom0 always, and driver domains) and the guests, by domid,
 * with the lookups whose errors name what the user typed.
 */
export class DomainTable {
  /** The domains running scsiback: dom0 (always) and driver domains, by domid. */
  readonly backends = new Map<number, BackendDomain>();
  readonly guests = new Map<number, GuestDomain>();

  /** A guest by name or domid; errors name the argument. */
  resolveDomain(domain: string): GuestDomain {
    const byId = /^\d+$/.test(domain) ? this.guests.get(Number(domain)) : undefined;
    const g = byId ?? [...this.guests.values()].find((x) => x.name === domain);
    if (!g) {
      const be = this.findBackend(domain);
      if (be?.handle.domid === 0) throw invalidState("Domain-0", "dom0 has no vscsi frontends");
      if (be) throw invalidState(be.name, "is a driver domain: it runs scsiback, not scsifront");
      throw new PvscsiError(
        "ESTATE",
        `domain '${domain}' does not exist (running: ${[...this.guests.values()].map((x) => x.name).join(", ") || "none"})`,
      );
    }
    return g;
  }

  /** The backend domain a vscsi entry names (`backend=<name or domid>`; dom0 when absent). */
  resolveBackend(name: string | undefined, where: string): BackendDomain {
    const be = this.findBackend(name ?? "0");
    if (be) return be;
    const isGuest = /^\d+$/.test(name!)
      ? this.guests.has(Number(name))
      : this.findByName(name!) !== undefined;
    throw configError(
      where,
      isGuest
        ? `backend '${name}' is not a driver domain (its config needs driver_domain = 1)`
        : `backend '${name}' does not exist (backend domains: ${[...this.backends.values()].map((b) => b.name).join(", ")})`,
    );
  }

  /** A backend domain by name or domid. */
  findBackend(domain: string): BackendDomain | undefined {
    if (/^\d+$/.test(domain)) return this.backends.get(Number(domain));
    return [...this.backends.values()].find((b) => b.name === domain);
  }

  /** dom0's backend domain; refused once the host is shut down. */
  get dom0Backend(): BackendDomain {
    const be = this.backends.get(0);
    if (!be) throw invalidState("Domain-0", "the host is shut down");
    return be;
  }

  /** Any domain (guest or driver domain) by name. */
  findByName(name: string): GuestDomain | BackendDomain | undefined {
    return [...this.guests.values(), ...this.backends.values()].find((g) => g.name === name);
  }
}

/** A physical device's identity across backend domains: each has its own h:c:t:l space. */
export function deviceKey(backendDomid: number, hctl: string): string {
  return `${backendDomid}/${hctl}`;
}

/** How errors name a backend domain: "dom0", or "driver domain 'scsidd'". */
export function backendLabel(be: BackendDomain): string {
  return be.handle.domid === 0 ? "dom0" : `driver domain '${be.name}'`;
}
