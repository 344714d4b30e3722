import { readFileSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { fileURLToPath } from "node:url";
import type { LiveControl, LiveRecording } from "./controls.js";
import { LiveView } from "./live-view.js";

/** The page's files: `web/` at the package's root (next to `src/` and `dist/`). */
const WEB_DIR = fileURLToPath(new URL("../../web/", import.meta.url));
const FILES: Record<string, { file: string; type: string }> = {
  "/": { file: "index.html", type: "text/html; charset=utf-8" },
  "/index.html": { file: "index.html", type: "text/html; charset=utf-8" },
  "/app.js": { file: "app.js", type: "text/javascript; charset=utf-8" },
  "/style.css": { file: "style.css", type: "text/css; charset=utf-8" },
};

/** Longest control body accepted. */
const MAX_BODY = 4096;
/** Fewest milliseconds between two snapshots sent to a page (at most ~30 per second). */
const MIN_PUSH_MS = 33;

/** A running `pvscsi ui` server. */
export interface UiServer {
  readonly url: string;
  readonly server: Server;
  /** The machine served now (a replay swaps in a fresh one; the old one is closed). */
  readonly view: LiveView;
  close(): Promise<void>;
}

/** Longest recording accepted by `POST /api/replay`. */
const MAX_RECORDING = 1 << 20;

const ACTIONS = new Set([
  "run",
  "pause",
  "step",
  "reads",
  "abort",
  "unplug",
  "plug",
  "revoke",
  "stall",
  "wrap",
  "select",
  "lesson",
  "replay",
]);

/**
 * Check a control sent by a page: a JSON object whose `action` is known and whose numbers are
 * integers. Returns the control or a message naming what is wrong.
 */
export function parseControl(body: string): LiveControl | string {
  let v: unknown;
  try {
    v = JSON.parse(body);
  } catch {
    return "the body is not JSON";
  }
  if (typeof v !== "object" || v === null || Array.isArray(v)) return "the body is not a JSON object";
  const o = v as Record<string, unknown>;
  if (typeof o.action !== "string" || !ACTIONS.has(o.action))
    return `unknown action ${JSON.stringify(o.action)} (one of ${[...ACTIONS].join(", ")})`;
  for (const k of ["speed", "count", "depth", "rqid", "domid", "devid", "index"]) {
    if (o[k] !== undefined && (typeof o[k] !== "number" || !Number.isInteger(o[k]) || (o[k] as number) < 0))
      return `${k} must be a non-negative integer`;
  }
  if (o.action === "abort" && o.rqid === undefined) return "abort needs rqid";
  if (o.action === "select" && (o.domid === undefined || o.devid === undefined))
    return "select needs domid and devid";
  if (o.action === "lesson" && o.index === undefined) return "lesson needs index";
  if (o.action === "stall" && typeof o.on !== "boolean") return "stall needs on: true or false";
  return o as unknown as LiveControl;
}

/**
 * Check a recording (`GET /api/recording`, or a file): version 1, entries of known controls at
 * non-decreasing step counts. Returns it or a message naming what is wrong.
 */
export function parseRecording(text: string): LiveRecording | string {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return "the recording is not JSON";
  }
  const o = v as Partial<LiveRecording> | null;
  if (typeof o !== "object" || o === null || o.version !== 1 || !Array.isArray(o.entries))
    return "not a pvscsi ui recording (version 1, entries)";
  if (typeof o.steps !== "number" || !Number.isInteger(o.steps) || o.steps < 0 || o.steps > 10_000_000)
    return "steps must be a non-negative integer";
  let last = 0;
  for (const [i, e] of o.entries.entries()) {
    if (
      typeof e !== "object" ||
      e === null ||
      typeof e.atStep !== "number" ||
      !Number.isInteger(e.atStep) ||
      e.atStep < last
    )
      return `entry ${i}: atStep must be an integer, not below the previous entry's`;
    last = e.atStep;
    const c = parseControl(JSON.stringify(e.control));
    if (typeof c === "string") return `entry ${i}: ${c}`;
    if (c.action === "replay" || c.action === "lesson") return `entry ${i}: ${c.action} cannot be replayed`;
  }
  return o as LiveRecording;
}

/**
 * Serve the live view on `host:port` (127.0.0.1 and a free port by default): the page and its
 * modules, `GET /events` (Server-Sent Events: one snapshot per change, coalesced), `GET
 * /api/state` (the snapshot now), `POST /api/control` (a {@link LiveControl} as JSON; `replay`
 * repeats this session on a fresh machine), `GET /api/recording` (the session, to save) and
 * `POST /api/replay` (a saved recording, replayed on a fresh machine).
 */
export async function serveLiveView(first: LiveView, port = 0, host = "127.0.0.1"): Promise<UiServer> {
  let view = first;
  const clients = new Set<ServerResponse>();
  let timer: ReturnType<typeof setTimeout> | null = null;
  let lastPush = 0;
  const push = (): void => {
    if (clients.size === 0 || timer !== null) return;
    const wait = Math.max(0, lastPush + MIN_PUSH_MS - Date.now());
    timer = setTimeout(() => {
      timer = null;
      lastPush = Date.now();
      const data = `data: ${JSON.stringify(view.snapshot())}\n\n`;
      for (const c of clients) c.write(data);
    }, wait);
  };
  let unsubscribe = view.onChange(push);

  /** Replay `rec` on a fresh machine and serve that one from now on. */
  async function replayOnFresh(rec: LiveRecording): Promise<void> {
    const fresh = await LiveView.start();
    try {
      await fresh.replay(rec);
    } catch (e) {
      await fresh.close();
      throw e;
    }
    const old = view;
    unsubscribe();
    view = fresh;
    unsubscribe = view.onChange(push);
    await old.close();
    push();
  }

  async function readBody(req: IncomingMessage, max: number): Promise<string | null> {
    let body = "";
    for await (const chunk of req) {
      body += String(chunk);
      if (body.length > max) return null;
    }
    return body;
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((e: unknown) => {
      if (!res.headersSent) res.writeHead(500, { "content-type": "text/plain" });
      res.end(`error: ${e instanceof Error ? e.message : String(e)}\n`);
    });
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = new URL(req.url ?? "/", "http://x").pathname;
    if (req.method === "GET" && FILES[path] !== undefined) {
      const f = FILES[path]!;
      res.writeHead(200, { "content-type": f.type, "cache-control": "no-store" });
      res.end(readFileSync(`${WEB_DIR}${f.file}`));
      return;
    }
    if (req.method === "GET" && path === "/api/state") {
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify(view.snapshot()));
      return;
    }
    if (req.method === "GET" && path === "/events") {
      res.writeHead(200, {
        "content-type": "text/event-stream",
        "cache-control": "no-store",
        connection: "keep-alive",
      });
      res.write(`data: ${JSON.stringify(view.snapshot())}\n\n`);
      clients.add(res);
      req.on("close", () => clients.delete(res));
      return;
    }
    if (req.method === "GET" && path === "/api/recording") {
      res.writeHead(200, {
        "content-type": "application/json",
        "content-disposition": "attachment; filename=pvscsi-ui-recording.json",
      });
      res.end(JSON.stringify(view.recording()));
      return;
    }
    if (req.method === "POST" && path === "/api/replay") {
      const body = await readBody(req, MAX_RECORDING);
      if (body === null) {
        res.writeHead(413, { "content-type": "text/plain" });
        res.end(`the recording is longer than ${MAX_RECORDING} bytes\n`);
        return;
      }
      const rec = parseRecording(body);
      if (typeof rec === "string") {
        res.writeHead(400, { "content-type": "text/plain" });
        res.end(`${rec}\n`);
        return;
      }
      await replayOnFresh(rec);
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify(view.snapshot()));
      return;
    }
    if (req.method === "POST" && path === "/api/control") {
      const body = await readBody(req, MAX_BODY);
      if (body === null) {
        res.writeHead(413, { "content-type": "text/plain" });
        res.end(`the body is longer than ${MAX_BODY} bytes\n`);
        return;
      }
      const c = parseControl(body);
      if (typeof c === "string") {
        res.writeHead(400, { "content-type": "text/plain" });
        res.end(`${c}\n`);
        return;
      }
      if (c.action === "replay") await replayOnFresh(view.recording());
      else await view.control(c);
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify(view.snapshot()));
      return;
    }
    res.writeHead(404, { "content-type": "text/plain" });
    res.end("not found\n");
  }

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => resolve());
  });
  const addr = server.address() as AddressInfo;
  return {
    url: `http://${host}:${addr.port}/`,
    server,
    get view() {
      return view;
    },
    close: async () => {
      unsubscribe();
      if (timer !== null) clearTimeout(timer);
      for (const c of clients) c.end();
      clients.clear();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
