import type { MessagePort, TransferListItem as Transferable, Worker } from "node:worker_threads";

/**
 * Request/response over a worker's message channel, for control and observability only (boot,
 * peer introductions, reports, guest commands): never a SCSI request, response or data, which
 * travel through rings and grants.
 */

/** A call from the main thread to a worker. */
export interface RpcCall {
  readonly kind: "call";
  readonly id: number;
  readonly method: string;
  readonly args: unknown;
}

/** A worker's answer to an {@link RpcCall}. */
export type RpcReply =
  | { readonly kind: "reply"; readonly id: number; readonly ok: true; readonly value: unknown }
  | { readonly kind: "reply"; readonly id: number; readonly ok: false; readonly error: string };

/** Something a worker reports on its own (it is up, it failed). */
export type RpcNotice =
  | { readonly kind: "ready"; readonly value: unknown }
  | { readonly kind: "fatal"; readonly error: string };

/** Messages named by direction. */
export type MainToWorkerMessage = RpcCall;
export type WorkerToMainMessage = RpcReply | RpcNotice;

/** The main thread's end: calls into a worker and waits for its notices. */
export class RpcClient {
  private nextId = 1;
  private readonly waiting = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private readyResolve!: (v: unknown) => void;
  private readyReject!: (e: Error) => void;
  /** Resolves with the worker's `ready` value, rejects if it fails before. */
  readonly ready: Promise<unknown>;
  private failure: Error | null = null;

  constructor(
    private readonly worker: Worker,
    private readonly name: string,
  ) {
    this.ready = new Promise((resolve, reject) => {
      this.readyResolve = resolve;
      this.readyReject = reject;
    });
    this.ready.catch(() => undefined);
    worker.on("message", (m: WorkerToMainMessage) => this.onMessage(m));
    worker.on("error", (e: Error) => this.fail(new Error(`${name}: ${e.message}`)));
    worker.on("exit", (code) => this.fail(new Error(`${name} exited (code ${code})`)));
  }

  call<T = unknown>(
    method: string,
    args: unknown = null,
    transfer: readonly Transferable[] = [],
  ): Promise<T> {
    if (this.failure) return Promise.reject(this.failure);
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.waiting.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.worker.postMessage({ kind: "call", id, method, args } satisfies MainToWorkerMessage, [
        ...transfer,
      ]);
    });
  }

  private onMessage(m: WorkerToMainMessage): void {
    if (m.kind === "ready") this.readyResolve(m.value);
    else if (m.kind === "fatal") this.fail(new Error(`${this.name}: ${m.error}`));
    else {
      const w = this.waiting.get(m.id);
      if (!w) return;
      this.waiting.delete(m.id);
      if (m.ok) w.resolve(m.value);
      else w.reject(new Error(m.error));
    }
  }

  private fail(e: Error): void {
    if (this.failure) return;
    this.failure = e;
    this.readyReject(e);
    for (const w of this.waiting.values()) w.reject(e);
    this.waiting.clear();
  }
}

/** The worker's end: serve calls with `handlers` and announce readiness. */
export function serveRpc(port: MessagePort, handlers: Record<string, (args: never) => unknown>): void {
  port.on("message", (m: MainToWorkerMessage) => {
    if (m?.kind !== "call") return;
    const h = handlers[m.method];
    Promise.resolve()
      .then(() => {
        if (!h) throw new Error(`unknown method ${m.method}`);
        return h(m.args as never);
      })
      .then(
        (value) =>
          port.postMessage({ kind: "reply", id: m.id, ok: true, value } satisfies WorkerToMainMessage),
        (e: unknown) =>
          port.postMessage({
            kind: "reply",
            id: m.id,
            ok: false,
            error: e instanceof Error ? e.message : String(e),
          } satisfies WorkerToMainMessage),
      );
  });
}
