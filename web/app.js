// Vigil dashboard: live view, event timeline (SSE), zone counts, questions (text and
// push-to-talk) and the model/status panel. Plain ES modules; no build step, no CDN.
import { WavRecorder } from "./wav.js";

const $ = (id) => document.getElementById(id);
const state = { events: new Map(), nextOffset: null, zone: "", pieces: new Map() };

async function api(path, options = {}) {
  const res = await fetch(path, { credentials: "same-origin", ...options });
  const type = res.headers.get("Content-Type") || "";
  const body = type.includes("application/json") ? await res.json() : await res.text();
  if (!res.ok) {
    const message = body && body.error ? body.error.message : `HTTP ${res.status}`;
    throw new Error(message);
  }
  return body;
}

function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (k === "class") node.className = v;
    else if (k === "text") node.textContent = v;
    else node.setAttribute(k, v);
  }
  for (const c of children) if (c) node.append(c);
  return node;
}

function timeOf(unix) {
  return new Date(unix * 1000).toLocaleTimeString();
}

function describe(e) {
  const what = (e.type || "event").replace("_", " ");
  const who = e.class || "object";
  const count = e.count > 1 ? ` ×${e.count}` : "";
  return `${what}: ${who}${count} in ${e.zone || "?"}`;
}

// ---- events -------------------------------------------------------------------------------------

function renderEvent(e, fresh) {
  const sev = e.severity || "info";
  const thumb = e.snapshot_url
    ? el("img", { class: "thumb", src: e.snapshot_url, alt: `snapshot of ${e.id}`, loading: "lazy" })
    : el("div", { class: "thumb-none", text: "no snapshot" });
  const report = el("p", { class: "report" });
  if (e.report) {
    report.textContent = e.report;
  } else {
    report.textContent = e.report_status === "dropped" ? "no report (queue full)" : "report pending…";
    report.classList.add("pending");
  }
  const li = el(
    "li",
    { class: `event sev-${sev}${fresh ? " fresh" : ""}`, "data-id": e.id },
    thumb,
    el(
      "div",
      {},
      el(
        "div",
        { class: "head" },
        el("span", { class: "what", text: describe(e) }),
        el("span", { class: "tag", text: e.rule || "" }),
        el("span", { class: "tag", text: sev }),
        el("span", { class: "when", text: timeOf(e.start_unix) }),
      ),
      report,
    ),
  );
  return li;
}

function upsertEvent(e, fresh) {
  if (state.zone && e.zone !== state.zone) return;
  const list = $("events");
  const old = list.querySelector(`li[data-id="${CSS.escape(e.id)}"]`);
  const node = renderEvent(e, fresh && !old);
  if (old) {
    old.replaceWith(node);
  } else {
    // Newest first: insert before the first older event.
    let before = null;
    for (const li of list.children) {
      const other = state.events.get(li.dataset.id);
      if (other && other.start_unix < e.start_unix) { before = li; break; }
    }
    list.insertBefore(node, before);
  }
  state.events.set(e.id, e);
  $("events-none").hidden = list.children.length > 0;
}

async function loadEvents(append = false) {
  const params = new URLSearchParams({ limit: "30" });
  if (state.zone) params.set("zone", state.zone);
  if (append && state.nextOffset != null) params.set("offset", String(state.nextOffset));
  try {
    const page = await api(`/api/events?${params}`);
    if (!append) {
      $("events").replaceChildren();
      state.events.clear();
    }
    for (const e of page.events) upsertEvent(e, false);
    state.nextOffset = page.next_offset;
    $("more").hidden = page.next_offset == null;
    $("event-total").textContent = `(${page.total})`;
    renderZones(page.zones || {});
  } catch (err) {
    $("events-none").textContent = err.message;
  }
}

function renderZones(zones) {
  const body = $("zones").tBodies[0];
  body.replaceChildren();
  const select = $("filter-zone");
  const known = new Set([...select.options].map((o) => o.value));
  for (const [zone, n] of Object.entries(zones).sort((a, b) => b[1] - a[1])) {
    body.append(el("tr", {}, el("td", { text: zone || "(none)" }), el("td", { class: "n", text: String(n) })));
    if (!known.has(zone)) select.append(el("option", { value: zone, text: zone }));
  }
}

function connectEvents() {
  const source = new EventSource("/api/events/stream");
  const conn = $("conn");
  source.addEventListener("hello", () => {
    conn.textContent = "live";
    conn.className = "pill pill-on";
  });
  source.addEventListener("event", (m) => upsertEvent(JSON.parse(m.data), true));
  source.addEventListener("report_piece", (m) => {
    const p = JSON.parse(m.data);
    const text = (state.pieces.get(p.seq) || "") + p.text;
    state.pieces.set(p.seq, text);
    for (const id of p.event_ids || []) {
      const li = $("events").querySelector(`li[data-id="${CSS.escape(id)}"] .report`);
      if (li) {
        li.textContent = text;
        li.className = "report writing";
      }
    }
  });
  source.addEventListener("report", (m) => {
    const r = JSON.parse(m.data);
    state.pieces.delete(r.seq);
    refreshZonesSoon();
  });
  source.onerror = () => {
    conn.textContent = "reconnecting";
    conn.className = "pill pill-off";
  };
}

let zoneTimer = null;
function refreshZonesSoon() {
  clearTimeout(zoneTimer);
  zoneTimer = setTimeout(async () => {
    try {
      const page = await api("/api/events?limit=1");
      $("event-total").textContent = `(${page.total})`;
      renderZones(page.zones || {});
    } catch { /* the status poll reports errors */ }
  }, 500);
}

// ---- ask ----------------------------------------------------------------------------------------

function showAnswer(a) {
  $("ask-error").hidden = true;
  $("answer").hidden = false;
  $("answer-question").textContent = a.question;
  $("answer-text").textContent = a.answer;
  $("answer-source").textContent = a.source === "llm" ? "phrased by the model" : "template answer (facts only)";
  const audio = $("answer-audio");
  if (a.audio_url) {
    audio.hidden = false;
    audio.src = a.audio_url;
    audio.play().catch(() => { /* autoplay may be blocked until the user interacts */ });
  } else {
    audio.hidden = true;
  }
}

function showAskError(err) {
  $("ask-error").hidden = false;
  $("ask-error").textContent = err.message;
}

async function ask(body, contentType) {
  const button = $("ask-send");
  button.disabled = true;
  try {
    showAnswer(await api("/api/ask", { method: "POST", headers: { "Content-Type": contentType }, body }));
  } catch (err) {
    showAskError(err);
  } finally {
    button.disabled = false;
  }
}

function setupAsk() {
  $("ask-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const text = $("ask-text").value.trim();
    if (text) ask(JSON.stringify({ text }), "application/json");
  });
  const ptt = $("ptt");
  let recorder = null;
  const start = async (ev) => {
    ev.preventDefault();
    if (recorder) return;
    try {
      recorder = new WavRecorder();
      await recorder.start();
      ptt.classList.add("recording");
      ptt.textContent = "● Recording… release to ask";
    } catch (err) {
      recorder = null;
      showAskError(new Error(`microphone: ${err.message}`));
    }
  };
  const stop = async () => {
    if (!recorder) return;
    const r = recorder;
    recorder = null;
    ptt.classList.remove("recording");
    ptt.textContent = "🎤 Hold to talk";
    const wav = await r.stop();
    if (wav.size > 44) ask(wav, "audio/wav");
  };
  ptt.addEventListener("pointerdown", start);
  ptt.addEventListener("pointerup", stop);
  ptt.addEventListener("pointerleave", stop);
  ptt.addEventListener("keydown", (ev) => { if (ev.key === " " && !ev.repeat) start(ev); });
  ptt.addEventListener("keyup", (ev) => { if (ev.key === " ") stop(); });
}

// ---- status and live view -----------------------------------------------------------------------

function fmt(n, digits = 1) {
  return typeof n === "number" ? n.toFixed(digits) : "–";
}

async function pollStatus() {
  try {
    const s = await api("/api/status");
    const rows = [];
    if (s.model) {
      rows.push(["model", s.model.id], ["context", `${s.model.n_ctx} tokens × ${s.model.n_seq} sequences`],
        ["chat template", s.model.chat_format]);
    } else {
      rows.push(["model", "none loaded"]);
    }
    if (s.llm) {
      rows.push(["queue", `${s.llm.queue} waiting, ${s.llm.running} running`],
        ["generated", `${s.llm.generated_tokens} tokens (${fmt(s.llm.tokens_per_s)} tok/s last batch)`],
        ["requests", `${s.llm.completed} done, ${s.llm.cancelled} cancelled, ${s.llm.batches} batches`]);
    }
    rows.push(["uptime", `${fmt(s.uptime_s / 60)} min`]);
    if (s.info && s.info.store) rows.push(["store", s.info.store]);
    $("status").replaceChildren(...rows.flatMap(([k, v]) => [el("dt", { text: k }), el("dd", { text: String(v) })]));
    if (s.info && s.info.site) $("site").textContent = s.info.site;
    const live = s.live || { frames: 0 };
    $("live-none").hidden = live.frames > 0;
    $("live").hidden = live.frames === 0;
    if (live.frames > 0 && !$("live").getAttribute("src")) $("live").src = "/api/stream.mjpg";
    $("fps").textContent = live.frames > 0 ? `${fmt(live.fps)} fps` : "";
    if (!s.events) {
      $("events-none").textContent = "This server has no event store.";
    }
    return s;
  } catch (err) {
    $("status").replaceChildren(el("dt", { text: "error" }), el("dd", { text: err.message }));
    return null;
  }
}

async function main() {
  setupAsk();
  $("filter-zone").addEventListener("change", (ev) => {
    state.zone = ev.target.value;
    loadEvents();
  });
  $("more").addEventListener("click", () => loadEvents(true));
  const status = await pollStatus();
  setInterval(pollStatus, 3000);
  if (status && status.events) {
    await loadEvents();
    connectEvents();
  }
}

main();
