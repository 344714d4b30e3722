import createDebug from "debug";
import { sleepOnUpcall } from "../evtchn/wait.js";
import type { CommandResult } from "../guest/userland/command.js";
import type { DomainContext } from "../hypervisor/context.js";
import { WasmKernel } from "../wasm/kernel.js";
import { checkDomainHandle, type DomainHandle } from "../xen/domain-handle.js";
import type { GuestKernel, KernelDrive } from "./guest-kernel.js";
import type {
  BaselineResult,
  GuestBoot,
  GuestControllerInfo,
  GuestKernelApi,
  GuestKernelState,
  GuestReleased,
  GuestResumeStats,
} from "./kernel-api.js";

const debug = createDebug("pvscsi:wasm");

/** Passes of a busy (or polling) wasm kernel between yields to the thread's event loop (as POLL_PASSES_PER_YIELD). */
const PASSES_PER_YIELD = 512;
/** How long a wasm kernel's own loop sleeps without an event before looking again. */
const IDLE_WAIT_MS = 100;
/** How long {@link WasmGuestKernel.shutdown} waits for the driver to close its device. */
const SHUTDOWN_WAIT_MS = 10_000;

/** What a wasm kernel boots with: a guest's or a driver domain's boot, with the module. */
export type WasmBoot = Pick<GuestBoot, "peers" | "xenstore" | "pollMode" | "wasmKernel">;

/**
 * A guest whose kernel is a WebAssembly module (xl's `kernel = "front.wasm"`): the toolstack
 * drives it through {@link GuestKernelApi} like pvscsi's own scsifront kernel, in the domain's
 * worker (`"loop"`: its own event loop, `pv_evtchn_wait` may block) or pumped by the
 * single-thread system (`"pumped"`: `pv_poll()` once per pass). The driver does its own xenbus
 * handshake through its own xenstore client; the kernel log (`pv_log`) is what `dmesg` prints.
 */
export class WasmGuestKernel implements GuestKernelApi {
  /** No pvscsi domain kernel: the module has its own xenstore client. */
  readonly kernel = null;
  readonly wasm: WasmKernel;
  /** The kernel log: every `pv_log` line, and why the kernel stopped if it did. */
  readonly log: string[] = [];
  private stopping = false;
  private readonly loop: Promise<void> | null;
  private readonly xenstorePort: number;
  private readonly pollMode: boolean;

  constructor(
    readonly ctx: DomainContext,
    boot: WasmBoot,
    drive: KernelDrive,
  ) {
    for (const p of boot.peers) ctx.introducePeer(p);
    const bytes = boot.wasmKernel;
    if (bytes === undefined) throw new Error("WasmGuestKernel: the boot carries no wasm kernel");
    this.wasm = WasmKernel.create({
      ctx,
      bytes,
      xenstore: boot.xenstore,
      blocking: drive === "loop",
      log: (line) => {
        this.log.push(line);
        debug("dom%d: %s", ctx.domid, line);
      },
    });
    this.xenstorePort = boot.xenstore.port;
    this.pollMode = boot.pollMode;
    this.loop = drive === "loop" ? this.run() : null;
  }

  /** One pass (single-thread mode). */
  pump(): number {
    return this.stopping ? 0 : this.wasm.poll();
  }

  private async run(): Promise<void> {
    const ev = this.ctx.evtchn;
    let passes = 0;
    while (!this.stopping) {
      // Poll mode: never sleep, yield to the thread's event loop now and then (RPC, timers).
      if ((this.wasm.poll() !== 0 || this.pollMode) && ++passes < PASSES_PER_YIELD) continue;
      passes = 0;
      if (this.wasm.fault !== null) return;
      if (!ev.upcallPending() && !this.pollMode) {
        // Announced in the vcpu's blocked flag, or a sender never wakes us (wait.ts).
        await sleepOnUpcall(ev, IDLE_WAIT_MS);
      } else {
        await new Promise<void>((resolve) => setImmediate(resolve));
      }
    }
  }

  async introducePeer(handle: DomainHandle): Promise<void> {
    this.ctx.introducePeer(checkDomainHandle(handle));
  }

  async forgetPeer(domid: number): Promise<void> {
    this.ctx.forgetPeer(domid);
  }

  /** `dmesg` prints the kernel log; a wasm kernel has no other userland. */
  async command(argv: readonly string[]): Promise<CommandResult> {
    if (argv[0] === "dmesg") {
      const status = this.wasm.status();
      const tail = this.wasm.fault ? [] : [`[pvscsi] pv_status() = ${status ?? "(not exported)"}`];
      return { exitCode: 0, stdout: [...this.log, ...tail].map((l) => `${l}\n`).join(""), stderr: "" };
    }
    return {
      exitCode: 127,
      stdout: "",
      stderr: `${argv[0] ?? ""}: command not found (this domain's kernel is a wasm module; try dmesg)\n`,
    };
  }

  async controllers(): Promise<GuestControllerInfo[]> {
    return [];
  }

  async settled(): Promise<void> {}

  baselineRun(): Promise<BaselineResult> {
    return Promise.reject(new Error("a wasm kernel does not run the postMessage baseline"));
  }

  /** Ask the driver to close (`pv_shutdown()`), and wait until it has (`pv_closed()`) or faulted. */
  async shutdown(): Promise<void> {
    this.wasm.shutdown();
    const closed = this.wasm.exportedFunction("pv_closed");
    if (closed === undefined) return;
    const until = performance.now() + SHUTDOWN_WAIT_MS;
    while (this.wasm.fault === null && performance.now() < until) {
      try {
        if (closed() !== 0) return;
      } catch {
        return;
      }
      await new Promise<void>((resolve) => setTimeout(resolve, 1));
    }
  }

  async released(): Promise<GuestReleased> {
    return { devices: 0, deferredGrants: 0 };
  }

  /** A WebAssembly kernel's state is its own: it cannot be saved, so a restore boots it afresh. */
  async suspend(): Promise<GuestKernelState | null> {
    return null;
  }

  async thaw(): Promise<void> {}

  async resume(): Promise<void> {}

  async resumeStats(): Promise<GuestResumeStats> {
    return {
      resumes: 0,
      resetCompletions: 0,
      resetRetries: 0,
      carried: 0,
      carriedCompletions: 0,
      carriedFailures: 0,
    };
  }

  async stop(): Promise<void> {
    this.stopping = true;
    this.ctx.evtchn.kick();
    if (this.loop) await this.loop;
    // As DomainKernel.shutdown: the start info's xenstore port goes with the kernel.
    this.ctx.evtchn.close(this.xenstorePort);
  }
}

/** Whether a kernel the single-thread system pumps is a wasm one (it has no DomainKernel). */
export function isWasmKernel(k: GuestKernel | WasmGuestKernel | object): k is WasmGuestKernel {
  return k instanceof WasmGuestKernel;
}
