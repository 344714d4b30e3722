import type { VbdReport } from "../blkback/backend-driver.js";
import type { DomainContext } from "../hypervisor/context.js";
import type { VhostReport } from "../scsiback/backend-driver.js";
import type { LsscsiRow } from "../targets/inventory/inventory.js";
import { checkDomainHandle, type DomainHandle } from "../xen/domain-handle.js";
import { invalidArgument } from "../xen/errors.js";
import type { KernelDrive } from "./guest-kernel.js";
import type { BackendBoot, BackendKernelApi } from "./kernel-api.js";
import { WasmGuestKernel } from "./wasm-guest-kernel.js";

/** Longest `pv_inventory()` text read (a line per LUN). */
const MAX_INVENTORY_BYTES = 4096;

/**
 * A driver domain whose kernel is a WebAssembly *backend* module (`driver_domain = 1` with
 * `kernel = "back.wasm"`), in machine-memory mode: the domain sits at machine address 0 and the
 * module's linear memory is the whole machine memory, so the grants it maps
 * (`pv_gnttab_map`) are addresses it dereferences. The module runs as a wasm guest kernel does
 * ({@link WasmGuestKernel}: its own loop in a worker, or pumped in one thread); this adds what
 * the toolstack asks of a backend domain: its inventory (the module's `pv_inventory()`, one
 * `h:c:t:l vendor model` line per LUN), and a stop that lets the driver close first
 * (`pv_shutdown()`, then `pv_closed()`).
 */
export class WasmBackendKernel implements BackendKernelApi {
  /** The module and its loop. */
  readonly wasm: WasmGuestKernel;

  constructor(ctx: DomainContext, boot: BackendBoot, drive: KernelDrive) {
    if (boot.wasmKernel === undefined) throw new Error("WasmBackendKernel: the boot carries no wasm kernel");
    if (ctx.view.handle.machine?.byteOffset !== 0 || ctx.view.handle.wasmMemory === undefined) {
      throw invalidArgument(
        "wasm backend domain",
        "a domain at machine address 0 of the machine memory (DomainBacking.machineZero)",
        `dom${ctx.domid}`,
      );
    }
    this.wasm = new WasmGuestKernel(ctx, boot, drive);
  }

  /** The domain's context. */
  get ctx(): DomainContext {
    return this.wasm.ctx;
  }

  /** The kernel log (every `pv_log` line, and pvscsi's reports). */
  get log(): readonly string[] {
    return this.wasm.log;
  }

  async introducePeer(handle: DomainHandle): Promise<void> {
    this.ctx.introducePeer(checkDomainHandle(handle));
  }

  async forgetPeer(domid: number): Promise<void> {
    this.ctx.forgetPeer(domid);
  }

  async kernelLog(): Promise<string[]> {
    const status = this.wasm.wasm.status();
    return [
      ...this.wasm.log,
      ...(this.wasm.wasm.fault ? [] : [`[pvscsi] pv_status() = ${status ?? "(not exported)"}`]),
    ];
  }

  /** pvscsi's scsiback reports do not cover a C backend: its log does (`dmesg`). */
  async report(): Promise<VhostReport[]> {
    return [];
  }

  /** The module's LUNs: `pv_inventory()`'s lines, as `lsscsi` rows whose p-dev is the h:c:t:l. */
  async inventory(): Promise<LsscsiRow[]> {
    const f = this.wasm.wasm.exportedFunction("pv_inventory");
    if (f === undefined) return [];
    const bytes = this.ctx.memory;
    let ptr: number;
    try {
      ptr = f() >>> 0;
    } catch {
      return [];
    }
    let end = ptr;
    while (end < bytes.length && end - ptr < MAX_INVENTORY_BYTES && bytes[end] !== 0) end++;
    const text = new TextDecoder().decode(bytes.slice(ptr, end));
    const rows: LsscsiRow[] = [];
    for (const line of text.split("\n")) {
      const m = /^(\d+:\d+:\d+:\d+)\s+(\S+)\s+(\S+)/.exec(line.trim());
      if (m === null) continue;
      rows.push({
        hctl: m[1]!,
        type: "disk",
        typeCode: 0,
        vendor: m[2]!,
        model: m[3]!,
        rev: "",
        dev: "-",
        sg: "-",
        wwn: "-",
        pdev: m[1]!,
        shareable: false,
        fault: null,
      });
    }
    return rows;
  }

  /** A C backend's LUNs are its module's own: it has no remote targets to rescan. */
  async rescan(): Promise<{ added: string[]; removed: string[] }> {
    return { added: [], removed: [] };
  }

  async vbdReport(): Promise<VbdReport[]> {
    return [];
  }

  baselineServe(): Promise<void> {
    return Promise.reject(new Error("a wasm backend does not serve the postMessage baseline"));
  }

  /** Let the driver close its vhosts (`pv_shutdown`, wait for `pv_closed`), then stop its loop. */
  async stop(): Promise<void> {
    await this.wasm.shutdown();
    await this.wasm.stop();
  }
}
