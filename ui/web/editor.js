// The studio's transcript editor (runs as a gr.HTML component's js_on_load; Gradio passes
// element, trigger, props, server, upload, watch). The transcript is the editor: click a
// word to play from it, select words and type to replace them, Delete to cut them. Pending
// edits come from the server (`server.pending`: the edit engine's own tokenizer and diff)
// and show inline, struck out or inserted, when the text loses focus. Above the text, a
// wavesurfer.js waveform (zoomable, scrollable) with one region per word; dragging a
// region's edge corrects that word's boundary (`server.set_bounds`). After a render the
// same view plays the edited audio with its edits marked, and toggles original / edited at
// the same moment of speech (through the edit's time map).
const root = element.querySelector(".rt-editor");
const LOW = 0.5;
let doc = null, words = [], spans = [], ws = null, regions = null, showing = "original";
let lastSent = null, pendingSegs = null, timer = null, raf = null;

function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}
function fmt(t) { return (Math.round(t * 100) / 100).toFixed(2) + " s"; }
function textbox() { return document.querySelector("#" + (root.dataset.textbox || "new-text") + " textarea"); }
function ask(text) { return server.pending({ text, project: doc ? doc.project : "" }); }

// ---------------------------------------------------------------- the text
function currentText() {
  const box = root.querySelector(".rt-text");
  let out = "";
  const walk = (node) => {
    for (const n of node.childNodes) {
      if (n.nodeType === 3) out += n.nodeValue;
      else if (n.nodeType === 1 && !n.classList.contains("delete")) {
        if (n.tagName === "BR") out += " "; else walk(n);
      }
    }
  };
  walk(box);
  return out.replace(/\u00a0/g, " ");
}

function segSpan(seg) {
  const s = el("span", "seg " + seg.kind, seg.text);
  if (seg.word !== null && seg.word !== undefined) {
    const w = words[seg.word];
    s.dataset.w = seg.word;
    s.dataset.s = seg.start; s.dataset.e = seg.end;
    if (w && w.c < LOW) s.classList.add("low");
    if (w && w.dis) s.classList.add("dis");
    s.title = seg.kind === "delete"
      ? "cut (" + fmt(seg.start) + "–" + fmt(seg.end) + "); click to put it back"
      : fmt(seg.start) + "–" + fmt(seg.end) + (w ? " · confidence " + w.c.toFixed(2) : "")
        + (w && w.dis ? " · the second recogniser heard “" + w.dis + "”" : "");
  } else if (seg.kind === "insert") {
    s.title = "new words: will be spoken in this voice";
  }
  if (seg.kind === "delete") {
    s.contentEditable = "false"; s.dataset.del = "1";
    if (!/\s$/.test(seg.text)) s.textContent = seg.text + " ";  // shown apart from what follows
  }
  return s;
}

function renderText(segs) {
  const box = root.querySelector(".rt-text");
  box.replaceChildren(...segs.map(segSpan));
  spans = [...box.querySelectorAll(".seg.keep[data-s]")];
  summarise(segs);
}

function summarise(segs) {
  const cut = segs.filter((s) => s.kind === "delete").length;
  const added = segs.filter((s) => s.kind === "insert" && s.text.trim()).length;
  const note = root.querySelector(".rt-pending");
  note.textContent = (cut || added)
    ? "Pending: " + (added ? added + " new " + (added === 1 ? "word" : "words") : "")
      + (added && cut ? ", " : "") + (cut ? cut + " cut" : "")
      + " — press Render to hear them"
    : "No pending edits. Select words and type to replace them; Delete cuts.";
  const same = (a, b) => (a || "").replace(/\s+/g, " ").trim() === (b || "").replace(/\s+/g, " ").trim();
  if ((cut || added) && doc && doc.edited && same(doc.rendered, currentText()))
    note.textContent = "Rendered. “Hear the edited” plays it; the edits are marked on its waveform.";
  note.classList.toggle("has", !!(cut || added));
}

async function sync(rebuild) {
  const text = currentText();
  const tb = textbox();
  if (tb && tb.value !== text) {
    tb.value = text;
    tb.dispatchEvent(new Event("input", { bubbles: true }));
  }
  if (text !== lastSent || rebuild) {
    lastSent = text;
    try {
      pendingSegs = await ask(text);
      if (currentText() !== text) return; // typed on meanwhile
      summarise(pendingSegs);
      if (rebuild || !root.querySelector(".rt-text").contains(document.activeElement))
        renderText(pendingSegs);
    } catch (e) { console.warn("pending edits:", e); }
  }
}

// ---------------------------------------------------------------- playing
function media() { return ws ? ws.getMediaElement() : root.querySelector("audio"); }
function play(t) {
  const m = media();
  if (!m) return;
  if (showing !== "original") toggle("original");
  m.currentTime = t;
  m.play().catch(() => {});
}
function highlight() {
  const m = media();
  const t = m ? m.currentTime : 0;
  root.querySelectorAll(".seg.now").forEach((s) => s.classList.remove("now"));
  root.querySelector(".rt-time").textContent = fmt(t) + (showing === "edited" ? " (edited)" : "");
  if (showing !== "original") return;
  const hit = spans.find((s) => +s.dataset.s <= t && t < +s.dataset.e);
  if (hit) {
    hit.classList.add("now");
    const box = root.querySelector(".rt-text");
    const top = hit.offsetTop - box.offsetTop;
    if (top < box.scrollTop || top > box.scrollTop + box.clientHeight - 20)
      box.scrollTop = Math.max(0, top - box.clientHeight / 3);
  }
}
function tick() { highlight(); raf = media() && !media().paused ? requestAnimationFrame(tick) : null; }

// Original <-> edited at the same moment of speech: the time map's breakpoints.
function mapTime(t, from) {
  const pts = doc.timemap || [];
  if (pts.length < 2) return t;
  const [a, b] = from === "original" ? [0, 1] : [1, 0];
  for (let i = 1; i < pts.length; i++) {
    if (t <= pts[i][a] || i === pts.length - 1) {
      const p = pts[i - 1], q = pts[i];
      const span = q[a] - p[a];
      return span > 0 ? p[b] + (t - p[a]) / span * (q[b] - p[b]) : p[b];
    }
  }
  return t;
}
function toggle(want) {
  if (!doc || !doc.edited) return;
  const to = want || (showing === "original" ? "edited" : "original");
  if (to === showing) return;
  const m = media();
  const t = m ? m.currentTime : 0, wasPlaying = m && !m.paused;
  const next = mapTime(t, showing);
  showing = to;
  loadAudio(to === "edited" ? doc.edited : doc.audio, next, wasPlaying);
  root.querySelector(".rt-ab").textContent = to === "edited" ? "Hear the original" : "Hear the edited";
  root.classList.toggle("edited", to === "edited");
}

// ---------------------------------------------------------------- the waveform
let loading = 0;  // the latest load wins: an earlier one still decoding is ignored
function loadAudio(url, at, go) {
  const mine = ++loading;
  const start = () => { const m = media(); if (m) { m.currentTime = at || 0; if (go) m.play().catch(() => {}); } };
  if (ws) {
    ws.load(url).then(() => { if (mine === loading) { drawRegions(); start(); } })
      .catch(() => {});
  } else {
    const a = root.querySelector("audio");
    a.src = url;
    a.addEventListener("loadedmetadata", start, { once: true });
  }
}

// A region's label and colour live in its content element (Gradio's own audio player styles
// every wavesurfer region part); a label longer than its word is clipped (zoom in to read).
function label(text, colour) {
  const c = el("div", "rt-region", text);
  c.title = text;
  c.style.cssText = "position:absolute;inset:0;pointer-events:none;white-space:nowrap;"
    + "overflow:hidden;font:11px/1.2 sans-serif;color:#123;padding:2px 2px 0;"
    + "background:" + colour;
  return c;
}
function drawRegions() {
  if (!regions) return;
  regions.clearRegions();
  root.dataset.view = showing;
  if (showing === "edited") {
    (doc.edits || []).forEach((e, k) => {
      regions.addRegion({ start: e.s, end: Math.max(e.e, e.s + 0.02), drag: false, resize: false,
        content: label(e.label, "rgba(46, 160, 67, 0.30)"), id: "edit" + k });
    });
    root.dataset.regions = regions.getRegions().length;
    return;
  }
  let row = 0;
  words.forEach((w, i) => {
    if (!w.a) return;
    regions.addRegion({ id: "w" + i, start: w.s, end: w.e, drag: false, resize: true,
      minLength: 0.03, content: label(w.t, w.c < LOW ? "rgba(215, 58, 73, 0.22)"
        : (row % 2 ? "rgba(56, 139, 253, 0.10)" : "rgba(56, 139, 253, 0.20)")) });
    row++;
  });
  root.dataset.regions = regions.getRegions().length;
}

function setupWave() {
  const wave = root.querySelector(".rt-wave");
  if (!window.WaveSurfer || !window.WaveSurfer.Regions) {
    wave.replaceChildren(el("audio", "rt-audio"));
    root.querySelector("audio").controls = true;
    root.querySelector(".rt-zoom").hidden = true;
    return;
  }
  regions = window.WaveSurfer.Regions.create();
  const plugins = [regions];
  if (window.WaveSurfer.Timeline) plugins.push(window.WaveSurfer.Timeline.create({ height: 14 }));
  ws = window.WaveSurfer.create({ container: wave, height: 96, waveColor: "#9aa4b1",
    progressColor: "#4a5563", cursorColor: "#d73a49", minPxPerSec: 80, autoScroll: true,
    dragToSeek: true, normalize: true, plugins });
  ws.on("timeupdate", highlight);
  ws.on("play", () => root.querySelector(".rt-play").textContent = "Pause");
  ws.on("pause", () => root.querySelector(".rt-play").textContent = "Play");
  regions.on("region-clicked", (r, e) => { e.stopPropagation(); const m = media(); if (m) { m.currentTime = r.start; m.play().catch(() => {}); } });
  regions.on("region-updated", async (r) => {
    if (!r.id.startsWith("w")) return;
    const i = +r.id.slice(1);
    const note = root.querySelector(".rt-note");
    try {
      const res = await server.set_bounds({ i, s: r.start, e: r.end, project: doc.project });
      if (res.words) for (const [k, w] of Object.entries(res.words)) Object.assign(words[+k], w);
      note.textContent = res.note || "";
      drawRegions();
      spans.forEach((s) => { const w = words[+s.dataset.w]; if (w) { s.dataset.s = w.s; s.dataset.e = w.e; } });
    } catch (e) { note.textContent = "Could not move that boundary; try again."; drawRegions(); }
  });
}

// ---------------------------------------------------------------- building
// A new document: a new recording opens on its own waveform; a new render of the same one
// opens on the edited audio, its edits marked (a plain text change keeps what is shown).
function build() {
  let d = null;
  try { d = props.value ? JSON.parse(props.value) : null; } catch (e) { d = null; }
  if (!d || !d.words) { root.hidden = true; return; }
  root.hidden = false;
  const fresh = !doc || doc.audio !== d.audio;
  const newRender = !!d.edited && (fresh || !doc.edited || doc.edited !== d.edited);
  doc = d; words = d.words;
  root.querySelector(".rt-draft").hidden = !d.draft;
  root.querySelector(".rt-ab").hidden = !d.edited;
  if (!ws && !root.querySelector("audio")) setupWave();
  const want = !d.edited ? "original" : (newRender ? "edited" : showing);
  if (fresh || newRender || want !== showing) {
    showing = want;
    loadAudio(want === "edited" ? d.edited : d.audio, 0, false);
  } else drawRegions();
  root.classList.toggle("edited", showing === "edited");
  root.querySelector(".rt-ab").textContent = showing === "edited" ? "Hear the original" : "Hear the edited";
  // The same text again while the user is in it (a late echo of the page's state): keep
  // their caret and selection.
  const typed = d.segments.filter((s) => s.kind !== "delete").map((s) => s.text).join("");
  const inside = root.querySelector(".rt-text").contains(document.activeElement);
  if (!fresh && !newRender && (inside || typed === currentText())) summarise(d.segments);
  else renderText(d.segments);
  lastSent = currentText();
}

root.innerHTML = `
  <div class="rt-bar">
    <button type="button" class="rt-play">Play</button>
    <span class="rt-time">0.00 s</span>
    <button type="button" class="rt-ab" hidden>Hear the edited</button>
    <label class="rt-zoom">zoom <input type="range" min="20" max="600" value="80"></label>
    <span class="rt-draft" hidden title="Speech recognition wrote this transcript: check it before editing. Words with a wavy underline were heard differently by a second recogniser; dotted: the aligner is unsure where they are.">DRAFT — from speech recognition; check it</span>
  </div>
  <div class="rt-wave"></div>
  <div class="rt-text" contenteditable="true" spellcheck="false" role="textbox" aria-multiline="true" aria-label="Transcript: click a word to play from it; select words and type to replace them"></div>
  <div class="rt-pending"></div>
  <div class="rt-note"></div>
  <div class="rt-legend"><span class="seg keep low">unsure where</span> <span class="seg keep dis">heard differently</span> <span class="seg delete">cut</span> <span class="seg insert">new</span></div>`;

const text = root.querySelector(".rt-text");
text.addEventListener("click", (e) => {
  const s = e.target.closest(".seg");
  if (!s) return;
  if (s.dataset.del) {  // put a cut word back where it was
    s.replaceWith(document.createTextNode(s.textContent.trimEnd() + " "));
    sync(true);
    return;
  }
  if (s.dataset.s !== undefined && window.getSelection().isCollapsed) play(+s.dataset.s);
});
text.addEventListener("keydown", (e) => {
  if (e.key === "Enter") e.preventDefault();
  else if (media() && !media().paused && e.key.length === 1) media().pause();
});
text.addEventListener("paste", (e) => {
  e.preventDefault();
  const t = (e.clipboardData || window.clipboardData).getData("text").replace(/\s+/g, " ");
  document.execCommand("insertText", false, t);
});
text.addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(() => sync(false), 350); });
text.addEventListener("blur", () => { clearTimeout(timer); sync(true); });
root.querySelector(".rt-play").addEventListener("click", () => {
  const m = media(); if (!m) return;
  if (m.paused) m.play().catch(() => {}); else m.pause();
});
root.querySelector(".rt-ab").addEventListener("click", () => toggle());
root.querySelector(".rt-zoom input").addEventListener("input", (e) => { if (ws) ws.zoom(+e.target.value); });
root.addEventListener("play", () => { if (!raf) raf = requestAnimationFrame(tick); }, true);
// The plain-text box (for those who prefer it) drives the editor too.
document.addEventListener("input", (e) => {
  const tb = textbox();
  if (tb && e.target === tb && e.isTrusted) { clearTimeout(timer); timer = setTimeout(async () => {
    lastSent = tb.value; pendingSegs = await ask(tb.value); renderText(pendingSegs); }, 350); }
}, true);
watch("value", build);
build();
