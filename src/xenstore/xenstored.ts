import createDebug from "debug";
import { invalidState } from "../xen/errors.js";
import { XenstoreClient, type XenstoreClientOptions } from "./client.js";
import { XenstoreDb, type XenstoreDbOptions } from "./database.js";
import { decodeMessage, type XsMessage } from "./message.js";
import { ProtocolConnection, type ProtocolConnectionOptions } from "./protocol-connection.js";
import type { XenstoreRingPage } from "./ring-page.js";
import { type RingServerOptions, XenstoreRingServer } from "./ring-server.js";
import type { XsTransport } from "./transport.js";

const log = createDebug("pvscsi:xenstore");

/**
 * What the driver needs from the hypervisor layer to serve a domain that dom0 introduces: map the
 * domain's xenstore page (`mfn` in `INTRODUCE`), bind an interdomain event channel to `port`, and
 * call `onEvent` whenever the domain signals it. Later wired to the grant and event-channel code;
 * tests pass a stub.
 */
export interface XenstoreDomainBinder {
  bind(domid: number, mfn: number, port: number, onEvent: () => void): XenstoreDomainBinding;
}

/** A bound domain: its page, how to signal it, how to let go. */
export interface XenstoreDomainBinding {
  readonly page: XenstoreRingPage;
  notify(): void;
  unbind(): void;
}

/** A domain's ring as the driver serves it: call {@link onEvent} when its event channel fires. */
export interface XenstoredRing {
  readonly domid: number;
  readonly server: XenstoreRingServer;
  /** The plug for the event channel: the domain signalled, schedule a pass over its ring. */
  onEvent(): void;
  /** Stop serving it and drop its watches and transactions. */
  close(): void;
}

/** Options of {@link Xenstored}. */
export interface XenstoredOptions extends XenstoreDbOptions {
  /**
   * How the driver runs itself again when work arrives. Default: `setImmediate`, so the main
   * thread's event loop interleaves xenstore with everything else. Tests pass a function that
   * records the request and call {@link Xenstored.runUntilIdle} to step deterministically.
   */
  readonly schedule?: (run: () => void) => void;
  /** Per-connection bounds of the protocol layer. */
  readonly protocol?: ProtocolConnectionOptions;
  /** Per-pass budget of each ring. */
  readonly ring?: RingServerOptions;
  /** Maps introduced domains' rings; without it, rings are attached with {@link Xenstored.attachRing}. */
  readonly binder?: XenstoreDomainBinder;
}

interface Serviced {
  /** One bounded pass; true if more work remains. */
  pass(): boolean;
}

/**
 * xenstored: the store and every connection to it. It runs in the main thread with the toolstack
 * (the toolstack talks to it in process, with no ring); the backend worker and each guest worker
 * reach it through their xenstore ring page and an event channel, as guests reach xenstored in
 * Xen. Only the ring page is shared memory; the store itself is private to the main thread, so
 * nothing a guest does can touch it except through requests the driver checks.
 *
 * Fairness: a connection with work is put on a round-robin list; each {@link service} pass gives
 * every listed connection one bounded turn (a ring's turn takes at most `requestBytesPerPass`
 * request bytes) and puts it back at the end if it still has work. A slow or hostile domain
 * therefore delays the others by at most one turn per pass, and never blocks them: the driver
 * never waits on a guest.
 */
export class Xenstored {
  readonly db: XenstoreDb;
  private readonly schedule: (run: () => void) => void;
  private readonly protocolOptions: ProtocolConnectionOptions;
  private readonly ringOptions: RingServerOptions;
  private readonly binder: XenstoreDomainBinder | undefined;
  private readonly ready = new Set<Serviced>();
  private readonly rings = new Map<number, XenstoredRing>();
  private readonly locals = new Set<LocalTransport>();
  private readonly streams = new Set<StreamConnection>();
  private scheduled = false;
  private closed = false;

  constructor(options: XenstoredOptions = {}) {
    this.db = new XenstoreDb(options);
    this.schedule = options.schedule ?? ((run) => setImmediate(run));
    this.protocolOptions = options.protocol ?? {};
    this.ringOptions = options.ring ?? {};
    this.binder = options.binder;
    this.db.domainListener = {
      introduced: (domid, mfn, port) => this.onIntroduce(domid, mfn, port),
      released: (domid) => this.rings.get(domid)?.close(),
    };
  }

  /** A client in this thread for `domid` (dom0, privileged, by default). */
  client(domid = 0, options?: XenstoreClientOptions): XenstoreClient {
    return new XenstoreClient(this.connectLocal(domid), options);
  }

  /** An in-process transport for `domid`: same wire messages, no ring. */
  connectLocal(domid = 0): XsTransport {
    this.checkOpen();
    const t = new LocalTransport(this, new ProtocolConnection(this.db.connect(domid), this.protocolOptions));
    this.locals.add(t);
    return t;
  }

  /**
   * A byte-stream connection for `domid` (a client on xenstored's Unix socket: dom0, privileged,
   * as real xenstored treats its socket). Request bytes go in through {@link XenstoredStream.push};
   * replies and watch events come out, on a later pass, through `write`, which returns false when
   * the peer is not reading (then nothing more is written until {@link XenstoredStream.resume}).
   * `onClosed` is called once when the connection ends on xenstored's side (protocol violation,
   * xenstored closed).
   */
  connectStream(
    domid: number,
    write: (bytes: Uint8Array) => boolean,
    onClosed: (reason: string) => void,
  ): XenstoredStream {
    this.checkOpen();
    const s = new StreamConnection(
      this,
      new ProtocolConnection(this.db.connect(domid), this.protocolOptions),
      write,
      onClosed,
    );
    this.streams.add(s);
    return s;
  }

  /**
   * Serve `domid` over its xenstore `page`, signalling it with `notify`. Returns the handle whose
   * `onEvent` the domain's event channel must call.
   */
  attachRing(domid: number, page: XenstoreRingPage, notify: () => void): XenstoredRing {
    return this.attach(domid, page, notify, undefined);
  }

  private attach(
    domid: number,
    page: XenstoreRingPage,
    notify: () => void,
    onClose: (() => void) | undefined,
  ): XenstoredRing {
    this.checkOpen();
    if (this.rings.has(domid)) throw invalidState(`xenstored dom${domid}`, "already has a ring attached");
    const protocol = new ProtocolConnection(this.db.connect(domid), this.protocolOptions);
    const server = new XenstoreRingServer(page, protocol, notify, this.ringOptions);
    const item: Serviced = { pass: () => server.service() };
    const ring: XenstoredRing = {
      domid,
      server,
      onEvent: () => this.wake(item),
      close: () => {
        if (this.rings.get(domid) !== ring) return;
        this.rings.delete(domid);
        this.ready.delete(item);
        server.stop();
        onClose?.();
      },
    };
    protocol.db.onWatchEvent = () => this.wake(item);
    this.rings.set(domid, ring);
    this.wake(item);
    return ring;
  }

  /** The ring served for `domid`, if any. */
  ring(domid: number): XenstoredRing | undefined {
    return this.rings.get(domid);
  }

  /**
   * One fair pass: every connection with work gets one bounded turn. Returns whether any still
   * has work (the driver has already scheduled another pass if so).
   */
  service(): boolean {
    this.scheduled = false;
    const round = [...this.ready];
    this.ready.clear();
    for (const item of round) if (item.pass()) this.ready.add(item);
    if (this.ready.size > 0) this.kick();
    return this.ready.size > 0;
  }

  /** Run passes until no connection has work (or `maxPasses`, which returns false). */
  runUntilIdle(maxPasses = 10_000): boolean {
    for (let i = 0; i < maxPasses; i++) if (!this.service()) return true;
    return false;
  }

  /** Rings served, in-process connections open, and connections waiting for a pass. */
  stats(): { rings: number; localConnections: number; ready: number } {
    return { rings: this.rings.size, localConnections: this.locals.size, ready: this.ready.size };
  }

  /** Byte-stream (Unix socket) connections open now ({@link connectStream}). */
  get streamCount(): number {
    return this.streams.size;
  }

  /** Close every connection and ring. */
  close(): void {
    if (this.closed) return;
    for (const r of [...this.rings.values()]) r.close();
    for (const t of [...this.locals]) t.close();
    for (const s of [...this.streams]) s.close("xenstored closed");
    this.ready.clear();
    this.closed = true;
  }

  /** Mark `item` as having work and make sure a pass is coming. @internal */
  wake(item: Serviced): void {
    if (this.closed) return;
    this.ready.add(item);
    this.kick();
  }

  /** @internal */
  forget(t: LocalTransport): void {
    this.locals.delete(t);
  }

  /** @internal */
  forgetStream(s: StreamConnection): void {
    this.streams.delete(s);
  }

  private kick(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    this.schedule(() => {
      if (this.scheduled) this.service();
    });
  }

  private checkOpen(): void {
    if (this.closed) throw invalidState("xenstored", "closed");
  }

  private onIntroduce(domid: number, mfn: number, port: number): void {
    if (this.binder === undefined) return;
    const old = this.rings.get(domid);
    old?.close();
    let ring: XenstoredRing | undefined;
    const binding = this.binder.bind(domid, mfn, port, () => ring?.onEvent());
    ring = this.attach(
      domid,
      binding.page,
      () => binding.notify(),
      () => binding.unbind(),
    );
    log("dom%d: serving its ring (mfn %d, port %d)", domid, mfn, port);
  }
}

/**
 * An in-process connection: whole messages handed to the protocol layer, replies handed back on
 * the driver's next pass (never synchronously, so a reply or watch callback cannot run inside the
 * store while it is changing).
 */
class LocalTransport implements XsTransport {
  onMessage: ((message: XsMessage) => void) | undefined;
  onClose: ((reason: string) => void) | undefined;
  private readonly server: Xenstored;
  private readonly protocol: ProtocolConnection;
  private readonly input: Uint8Array[] = [];
  private inputOffset = 0;
  private readonly item: Serviced;
  private closed = false;

  constructor(server: Xenstored, protocol: ProtocolConnection) {
    this.server = server;
    this.protocol = protocol;
    this.item = { pass: () => this.pass() };
    protocol.db.onWatchEvent = () => server.wake(this.item);
  }

  send(message: Uint8Array): void {
    if (this.closed) return;
    this.input.push(message);
    this.server.wake(this.item);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.protocol.close();
    this.server.forget(this);
    this.onClose?.("closed");
  }

  private pass(): boolean {
    if (this.closed) return false;
    // Bounded like a ring's turn: a few messages each way.
    for (let turn = 0; turn < 8; turn++) {
      let moved = false;
      if (this.input.length > 0 && this.protocol.acceptsInput) {
        const head = this.input[0]!;
        const n = this.protocol.receive(head, this.inputOffset, head.length - this.inputOffset);
        this.inputOffset += n;
        if (this.inputOffset === head.length) {
          this.input.shift();
          this.inputOffset = 0;
        }
        moved = n > 0;
      }
      if (this.protocol.failure !== undefined) {
        this.close();
        return false;
      }
      const out = this.protocol.takeMessage();
      if (out !== undefined) {
        moved = true;
        this.onMessage?.(decodeMessage(out));
      }
      if (!moved) return false;
    }
    return this.input.length > 0 || this.protocol.hasOutput;
  }
}

/** A byte-stream connection to xenstored ({@link Xenstored.connectStream}). */
export interface XenstoredStream {
  /**
   * Request bytes from the peer (copied). Returns false once more than {@link STREAM_INPUT_LIMIT}
   * bytes wait to be handled: the shell should stop reading the peer until `onDrained`.
   */
  push(bytes: Uint8Array): boolean;
  /** Called when the input queue has room again after {@link push} returned false. */
  onDrained: (() => void) | undefined;
  /** The peer reads again (the socket's `drain`): output resumes. */
  resume(): void;
  /** End the connection: its watches and transactions are dropped. */
  close(reason?: string): void;
}

/** Request bytes a stream connection queues before asking its shell to stop reading. */
export const STREAM_INPUT_LIMIT = 64 * 1024;

/**
 * A byte-stream client (xenstored's Unix socket): the peer's bytes are queued and fed to the
 * protocol layer on the driver's passes, output is handed to `write`. Bounded both ways: input by
 * {@link STREAM_INPUT_LIMIT} (the shell pauses the socket), output by the protocol layer's queue
 * (a peer that stops reading stops being served).
 */
class StreamConnection implements XenstoredStream {
  onDrained: (() => void) | undefined;
  private readonly input: Uint8Array[] = [];
  private inputOffset = 0;
  private inputBytes = 0;
  private paused = false;
  private blocked = false;
  private closed = false;
  private readonly item: Serviced;
  private readonly scratch = new Uint8Array(16 + 4096);

  constructor(
    private readonly server: Xenstored,
    private readonly protocol: ProtocolConnection,
    private readonly write: (bytes: Uint8Array) => boolean,
    private readonly onClosed: (reason: string) => void,
  ) {
    this.item = { pass: () => this.pass() };
    protocol.db.onWatchEvent = () => server.wake(this.item);
  }

  push(bytes: Uint8Array): boolean {
    if (this.closed) return false;
    if (bytes.length > 0) {
      this.input.push(bytes.slice());
      this.inputBytes += bytes.length;
      this.server.wake(this.item);
    }
    if (this.inputBytes > STREAM_INPUT_LIMIT) this.paused = true;
    return !this.paused;
  }

  resume(): void {
    if (this.closed || !this.blocked) return;
    this.blocked = false;
    this.server.wake(this.item);
  }

  close(reason = "closed"): void {
    if (this.closed) return;
    this.closed = true;
    this.protocol.close();
    this.server.forgetStream(this);
    this.onClosed(reason);
  }

  private pass(): boolean {
    if (this.closed) return false;
    for (let turn = 0; turn < 8; turn++) {
      let moved = false;
      if (this.input.length > 0 && this.protocol.acceptsInput) {
        const head = this.input[0]!;
        const n = this.protocol.receive(head, this.inputOffset, head.length - this.inputOffset);
        this.inputOffset += n;
        this.inputBytes -= n;
        if (this.inputOffset === head.length) {
          this.input.shift();
          this.inputOffset = 0;
        }
        moved = n > 0;
      }
      const failure = this.protocol.failure;
      if (failure !== undefined) {
        this.close(`protocol violation: ${failure.kind} (${failure.len} bytes)`);
        return false;
      }
      if (this.paused && this.inputBytes <= STREAM_INPUT_LIMIT / 2) {
        this.paused = false;
        this.onDrained?.();
      }
      if (!this.blocked) {
        const n = this.protocol.takeOutput(this.scratch, 0, this.scratch.length);
        if (n > 0) {
          moved = true;
          if (!this.write(this.scratch.slice(0, n))) this.blocked = true;
        }
      }
      if (this.closed) return false;
      if (!moved) return false;
    }
    return (
      (this.input.length > 0 && this.protocol.acceptsInput) || (!this.blocked && this.protocol.hasOutput)
    );
  }
}
