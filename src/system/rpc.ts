import { MessagePort, type TransferListItem as Transferable, type Worker } from "node:worker_threads";

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
  readonly args: readonly unknown[];
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

/** The main thread's end: typed calls into a worker serving `Api`, and the worker's notices. */
export class RpcClient<Api extends object> {
  private nextId = 1;
  private readonly waiting = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private readyResolve!: (v: unknown) => void;
  private readyReject!: (e: Error) => void;
  /** Resolves with the worker's `ready` value, rejects if it fails before. */
  readonly ready: Promise<unknown>;
  private failure: Error | null = null;

  /**
   * `posted`, if given, is called after every call is posted: a worker whose loop blocks its
   * thread in `Atomics.wait` receives no message until something wakes it, so the threaded system
   * counts the call in the kernel's vcpu and kicks it (`EventChannels.beginCall`).
   */
  constructor(
    private readonly worker: Worker,
    private readonly name: string,
    private readonly posted?: () => void,
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

  /**
   * Call `method` of the worker's `Api`: its name and arguments are checked against the
   * interface, so renaming a method fails to compile here as in the worker. A `MessagePort`
   * among the arguments' fields is transferred.
   */
  call<K extends keyof Api & string>(
    method: K,
    // biome-ignore lint/suspicious/noExplicitAny: Parameters<> needs a function type.
    ...args: Api[K] extends (...a: any[]) => unknown ? Parameters<Api[K]> : never
  ): Promise<Api[K] extends (...a: never[]) => infer R ? Awaited<R> : never> {
    if (this.failure) return Promise.reject(this.failure);
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.worker.postMessage(
        { kind: "call", id, method, args } satisfies MainToWorkerMessage,
        transferables(args),
      );
      this.posted?.();
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

/**
 * `Api` as an object whose methods call the worker: what the toolstack holds for a kernel in a
 * worker, interchangeable with the in-thread kernel implementing the same interface.
 */
export function rpcProxy<Api extends object>(
  client: RpcClient<Api>,
  methods: Readonly<Record<keyof Api, true>>,
): Api {
  const out: Record<string, unknown> = {};
  for (const m of Object.keys(methods)) {
    out[m] = (...args: unknown[]) =>
      (client.call as (m: string, ...a: unknown[]) => Promise<unknown>)(m, ...args);
  }
  return out as Api;
}

/** MessagePorts among the arguments (top level or one object deep) go as transfers, not copies. */
function transferables(args: readonly unknown[]): Transferable[] {
  const out: Transferable[] = [];
  for (const a of args) {
    if (a instanceof MessagePort) out.push(a);
    else if (a !== null && typeof a === "object")
      for (const v of Object.values(a)) if (v instanceof MessagePort) out.push(v);
  }
  return out;
}

/**
 * The worker's end: serve the methods of `Api` named in `methods` on `impl`. Arguments arrive
 * as the client spread them; an unknown method is refused. `answered`, if given, is called after
 * each reply is posted (the other half of the client's `posted`: `EventChannels.endCall`).
 */
export function serveRpc<Api extends object>(
  port: MessagePort,
  impl: Api,
  methods: Readonly<Record<keyof Api, true>>,
  answered?: () => void,
): void {
  port.on("message", (m: MainToWorkerMessage) => {
    if (m?.kind !== "call") return;
    Promise.resolve()
      .then(() => {
        if (!Object.hasOwn(methods, m.method)) throw new Error(`unknown method ${m.method}`);
        const f = (impl as Record<string, (...a: unknown[]) => unknown>)[m.method]!;
        return f.apply(impl, m.args as unknown[]);
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
      )
      .finally(answered);
  });
}
