// The live view's page: one snapshot per Server-Sent Event, drawn as SVG and tables; controls
// are POSTs. No build step, no dependencies.

const $ = (id) => document.getElementById(id);
const STATES = ["free", "written", "published", "serving", "responded", "consumed"];
const STATE_HELP = {
  free: "free",
  written: "written, not pushed",
  published: "published (req_prod)",
  serving: "being served (consumed by the backend)",
  responded: "response published (rsp_prod)",
  consumed: "response just consumed",
};
const XENBUS = [
  "Unknown",
  "Initialising",
  "InitWait",
  "Initialised",
  "Connected",
  "Closing",
  "Closed",
  "Reconfiguring",
  "Reconfigured",
];
const SVG = "http://www.w3.org/2000/svg";
let last = null;

function el(tag, attrs = {}, text) {
  const e =
    tag === "svg" || tag === "g" || tag === "rect" || tag === "text" || tag === "circle"
      ? document.createElementNS(SVG, tag)
      : document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  if (text !== undefined) e.textContent = text;
  return e;
}

function table(id, head, rows, rowClass) {
  const t = $(id);
  t.replaceChildren();
  const tr = el("tr");
  for (const h of head) tr.append(el("th", {}, h));
  t.append(tr);
  rows.forEach((r, i) => {
    const row = el("tr", rowClass ? { class: rowClass(i) } : {});
    for (const c of r) {
      if (c instanceof Node) {
        const td = el("td");
        td.append(c);
        row.append(td);
      } else row.append(el("td", {}, c));
    }
    t.append(row);
  });
}

async function send(control) {
  const r = await fetch("/api/control", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(control),
  });
  if (!r.ok) $("status").textContent = `error: ${await r.text()}`;
}

function drawRing(ring) {
  const svg = $("ring");
  svg.replaceChildren();
  if (!ring) {
    svg.append(el("text", { x: 0, y: 0 }, "no ring connected"));
    return;
  }
  const n = ring.size;
  const R = 95;
  for (const s of ring.slots) {
    const a = (2 * Math.PI * s.slot) / n - Math.PI / 2;
    const x = R * Math.cos(a);
    const y = R * Math.sin(a);
    const g = el("g", {
      class: "slot",
      "data-slot": s.slot,
      "data-state": s.state,
      transform: `translate(${x.toFixed(1)} ${y.toFixed(1)})`,
    });
    const title = el(
      "title",
      {},
      `slot ${s.slot}: ${STATE_HELP[s.state]}${s.state !== "free" ? `, index ${s.index}, rqid ${s.rqid}` : ""}`,
    );
    g.append(title, el("rect", { x: -15, y: -11, width: 30, height: 22, rx: 3, class: `st-${s.state}` }));
    g.append(el("text", { x: 0, y: -4 }, String(s.slot)));
    if (s.state !== "free" && s.rqid !== null) g.append(el("text", { x: 0, y: 6 }, `r${s.rqid}`));
    svg.append(g);
  }
  const mask = n - 1;
  const marks = [
    ["req_prod_pvt", ring.front.reqProdPvt, 0],
    ["rsp_cons", ring.front.rspCons, 1],
  ];
  const label = el("text", { x: 0, y: -8 }, `dom${ring.domid} vscsi ${ring.devid}`);
  svg.append(label);
  svg.append(el("text", { x: 0, y: 6 }, `${(ring.front.reqProdPvt - ring.front.rspCons) >>> 0} in flight`));
  for (const [name, v] of marks) svg.setAttribute(`data-${name.replace(/_/g, "-")}`, String(v & mask));
}

function drawIndices(ring) {
  if (!ring) {
    $("indices").replaceChildren();
    $("invariant").textContent = "";
    return;
  }
  const mask = ring.size - 1;
  const rows = [
    ["req_prod", "shared", ring.shared.reqProd],
    ["req_event", "shared", ring.shared.reqEvent],
    ["rsp_prod", "shared", ring.shared.rspProd],
    ["rsp_event", "shared", ring.shared.rspEvent],
    ["req_prod_pvt", "frontend", ring.front.reqProdPvt],
    ["rsp_cons", "frontend", ring.front.rspCons],
  ];
  if (ring.back)
    rows.push(["req_cons", "backend", ring.back.reqCons], ["rsp_prod_pvt", "backend", ring.back.rspProdPvt]);
  const t = $("indices");
  t.replaceChildren();
  const h = el("tr");
  for (const x of ["index", "owner", "raw u32", `slot (& ${mask})`]) h.append(el("th", {}, x));
  t.append(h);
  for (const [name, owner, v] of rows) {
    const tr = el("tr", { "data-index": name });
    tr.append(
      el("td", {}, name),
      el("td", {}, owner),
      el("td", { class: "num raw" }, String(v)),
      el("td", { class: "num slot" }, String(v & mask)),
    );
    t.append(tr);
  }
  const inv = $("invariant");
  inv.className = ring.invariant.holds ? "holds" : "broken";
  inv.textContent = `${ring.invariant.holds ? "✔ invariant holds" : "✘ invariant broken"}: ${ring.invariant.text}`;
}

function drawNotify(s) {
  const c = s.notifyCounts;
  $("notify-counts").textContent =
    `requests: ${c.requests.sent} sent, ${c.requests.suppressed} suppressed · responses: ${c.responses.sent} sent, ${c.responses.suppressed} suppressed`;
  const ol = $("notify");
  ol.replaceChildren();
  for (const n of [...s.notify].reverse()) {
    ol.append(
      el(
        "li",
        { class: n.sent ? "sent" : "suppressed" },
        `${n.side}: new ${n.newIdx}, old ${n.oldIdx}, event ${n.event}: ${n.text}`,
      ),
    );
  }
}

function drawEvtchn(s) {
  table(
    "ports",
    ["dom", "port", "remote", "pending", "masked", "selector"],
    s.ports.map((p) => [
      String(p.domid),
      String(p.port),
      p.remote,
      p.pending ? "1" : "0",
      p.masked ? "1" : "0",
      p.selector ? "1" : "0",
    ]),
  );
  table(
    "vcpus",
    ["vcpu", "upcall_pending", "waits by"],
    s.vcpus.map((v) => [
      `dom${v.domid} vcpu0`,
      v.upcallPending ? "1" : "0",
      v.mode === "stalled" ? "stalled (not run)" : "polled by the stepper",
    ]),
  );
}

function drawGrants(s) {
  const closing = !s.controllers.some(
    (c) => c.domid === s.ring?.domid && c.devid === s.ring?.devid && c.state === "Connected",
  );
  table(
    "grants",
    ["ref", "to", "frame", "flags", "maps", "held by"],
    s.grants.map((g) => [
      String(g.ref),
      `dom${g.grantee}`,
      String(g.frame),
      g.flags.join(" "),
      String(g.pins),
      g.owner,
    ]),
    (i) => (closing && s.grants[i].pins > 0 ? "bad" : ""),
  );
}

function drawXenbus(s) {
  const lanes = $("lanes");
  lanes.replaceChildren();
  for (const lane of ["frontend", "backend"]) {
    const states = s.xenbus.filter(
      (e) => e.lane === lane && e.state !== null && /\/vscsi\/\d+(\/\d+)?\/state$/.test(e.path),
    );
    const div = el("div", { class: "lane", "data-lane": lane });
    div.append(el("b", {}, lane));
    states.forEach((e, i) => {
      div.append(
        el(
          "span",
          { class: `state${i === states.length - 1 ? " now" : ""}`, title: e.text },
          `${e.state} ${XENBUS[e.state] ?? "?"}`,
        ),
      );
    });
    lanes.append(div);
  }
  const ol = $("xenbus");
  ol.replaceChildren();
  for (const e of [...s.xenbus].reverse().slice(0, 14)) ol.append(el("li", {}, e.text));
}

function drawHex(ring) {
  const hex = $("hex");
  hex.replaceChildren();
  const lr = ring?.lastRequest;
  if (!lr) {
    $("hex-title").textContent = "none yet";
    $("fields").replaceChildren();
    return;
  }
  $("hex-title").textContent = `index ${lr.index}, slot ${lr.slot} (252 bytes)`;
  const owner = new Array(lr.hex.length).fill(-1);
  lr.fields.forEach((f, i) => {
    for (let b = f.offset; b < f.offset + f.size && b < owner.length; b++) owner[b] = i;
  });
  lr.hex.forEach((h, b) => {
    const f = owner[b];
    hex.append(
      el(
        "span",
        f >= 0 ? { class: `f${f % 6}`, title: `${lr.fields[f].name} +${b - lr.fields[f].offset}` } : {},
        h,
      ),
    );
  });
  table(
    "fields",
    ["field", "offset", "size", "value"],
    lr.fields.map((f) => [f.name, String(f.offset), String(f.size), f.value]),
  );
}

function draw(s) {
  last = s;
  const ring = s.ring;
  $("ring-name").textContent = ring ? `dom${ring.domid} vscsi/${ring.devid}` : "";
  $("status").textContent =
    `${s.running ? "running" : "paused"} · ${s.steps} core actions · ${s.controllers.length} controller(s)`;
  $("status").dataset.steps = String(s.steps);
  $("stall").classList.toggle(
    "on",
    s.vcpus.some((v) => v.mode === "stalled"),
  );
  drawRing(ring);
  drawIndices(ring);
  drawNotify(s);
  drawEvtchn(s);
  drawGrants(s);
  drawXenbus(s);
  drawHex(ring);
  const log = $("log");
  log.replaceChildren();
  for (const l of [...s.log].reverse()) log.append(el("li", {}, l));
  const lesson = $("lesson");
  if (s.lesson) {
    lesson.hidden = false;
    $("lesson-title").textContent = s.lesson.title;
    $("lesson-text").textContent = s.lesson.text;
    $("lesson-pos").textContent = `${s.lesson.index + 1} / ${s.lesson.count}`;
  } else lesson.hidden = true;
  document.body.dataset.seq = String(s.seq);
}

const legend = $("legend");
for (const st of STATES) {
  const li = el("li");
  li.append(el("span", { class: `st-${st}` }), STATE_HELP[st]);
  legend.append(li);
}

$("run").onclick = () => send({ action: "run", speed: Number($("speed").value) || 1 });
$("pause").onclick = () => send({ action: "pause" });
$("step").onclick = () => send({ action: "step" });
$("step10").onclick = () => send({ action: "step", count: 10 });
$("reads").onclick = () => send({ action: "reads", count: 16, depth: 16 });
$("read1").onclick = () => send({ action: "reads", count: 1, depth: 1 });
$("abort").onclick = () => send({ action: "abort", rqid: Number($("abort-rqid").value) || 0 });
$("unplug").onclick = () => send({ action: "unplug" });
$("plug").onclick = () => send({ action: "plug" });
$("revoke").onclick = () => send({ action: "revoke" });
$("stall").onclick = () => send({ action: "stall", on: !$("stall").classList.contains("on") });
$("wrap").onclick = () => send({ action: "wrap" });
$("replay").onclick = () => send({ action: "replay" });
$("lesson-prev").onclick = () =>
  last?.lesson && send({ action: "lesson", index: Math.max(0, last.lesson.index - 1) });
$("lesson-next").onclick = () => last?.lesson && send({ action: "lesson", index: last.lesson.index + 1 });

const events = new EventSource("/events");
events.onmessage = (m) => draw(JSON.parse(m.data));
events.onerror = () => {
  $("status").textContent = "disconnected from pvscsi ui (is it still running?)";
};
