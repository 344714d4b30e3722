import type { XsMessage } from "./message.js";

/**
 * How a {@link XenstoreClient} reaches xenstored: whole messages out, whole messages in. A guest
 * or the backend worker uses its xenstore ring page ({@link XenstoreRingClient}); the toolstack in
 * the main thread, where xenstored runs, uses an in-process connection.
 */
export interface XsTransport {
  /** Queue one whole message (header and payload) for xenstored. */
  send(message: Uint8Array): void;
  /** Set by the client: receives every whole message from xenstored. */
  onMessage: ((message: XsMessage) => void) | undefined;
  /** Set by the client: the transport is gone for good (reason in words). */
  onClose: ((reason: string) => void) | undefined;
  /** Stop; pending requests fail. */
  close(): void;
}
