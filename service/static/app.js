// The sentiment page: scores the text box as you type with POST /explain and shows the label,
// a score bar, the text's tokens colored by their step, and the running score as an SVG chart.
// Same-origin requests only; no inline handlers (CSP); DOM built with textContent, never HTML.
"use strict";

const DEBOUNCE_MS = 250;
const FULL_STEP = 0.2; // a step this large (or larger) gets the palette's end color
const NEG = [230, 97, 1]; // PuOr diverging palette ends (colorblind-safe), black text stays legible
const MID = [247, 247, 247];
const POS = [128, 115, 172];
const SVG_NS = "http://www.w3.org/2000/svg";

const $ = (id) => document.getElementById(id);
const state = { key: "", timer: 0, seq: 0, controller: null, target: "positive", last: null };

function headers() {
  const h = { "content-type": "application/json" };
  if (state.key) h.authorization = "Bearer " + state.key;
  return h;
}

function mix(a, b, t) {
  return a.map((v, i) => Math.round(v + (b[i] - v) * t));
}

function stepColor(step) {
  const t = Math.max(-1, Math.min(1, (step || 0) / FULL_STEP));
  const rgb = t < 0 ? mix(MID, NEG, -t) : mix(MID, POS, t);
  return "rgb(" + rgb.join(",") + ")";
}

function fmt(x, digits) {
  return x === null || x === undefined ? "n/a" : x.toFixed(digits);
}

function signed(x) {
  return x === null || x === undefined ? "n/a" : (x >= 0 ? "+" : "\u2212") + Math.abs(x).toFixed(3);
}

function setStatus(text, isError) {
  const el = $("status");
  el.textContent = text;
  el.classList.toggle("error", Boolean(isError));
}

async function loadModel() {
  const r = await fetch("/model", { headers: headers() });
  if (r.status === 401) {
    $("key-box").hidden = false;
    $("model-info").textContent = "This server needs an API key.";
    return false;
  }
  if (!r.ok) {
    $("model-info").textContent = "Could not load the model card (HTTP " + r.status + ").";
    return false;
  }
  const m = await r.json();
  const acc = m.metrics && m.metrics.test ? m.metrics.test.accuracy : null;
  const info = $("model-info");
  info.textContent = "Model " + m.name + " \u00b7 version " + m.version +
    (acc === null ? "" : " \u00b7 test accuracy " + (100 * acc).toFixed(1) + "%");
  info.dataset.name = m.name;
  info.dataset.version = m.version;
  if (Array.isArray(m.labels) && m.labels.length === 2) state.target = m.labels[1];
  return true;
}

function renderVerdict(res) {
  const label = $("label");
  label.textContent = res.label;
  label.dataset.label = res.label;
  const p = res.scores[res.target];
  $("score").textContent = "P(" + res.target + ") = " + p.toFixed(3);
  $("score").dataset.value = String(p);
  const bar = $("bar");
  const fill = $("bar-fill");
  bar.dataset.sign = p >= 0.5 ? "positive" : "negative";
  const half = Math.abs(p - 0.5) * 100; // % of the bar's width, from its middle
  fill.style.left = (p >= 0.5 ? 50 : 50 - half) + "%";
  fill.style.width = half + "%";
  bar.setAttribute("aria-label", res.label + ", probability of " + res.target + " " + p.toFixed(3));
}

function tokenSpan(text, tok, cls) {
  const span = document.createElement("span");
  span.className = "tok " + cls;
  span.textContent = text;
  return span;
}

function renderTokens(text, res) {
  const box = $("tokens");
  box.replaceChildren();
  const chars = Array.from(text); // offsets count code points, like Python
  let at = 0;
  const pieces = res.tokens.filter((t) => !t.special).map((t) => [t, "scored"])
    .concat(res.truncated.map((t) => [t, "cut"]));
  for (const [tok, kind] of pieces) {
    if (tok.start < at) continue; // overlapping spans: keep the first
    if (tok.start > at) box.append(chars.slice(at, tok.start).join(""));
    const span = tokenSpan(chars.slice(tok.start, tok.end).join(""), tok, kind);
    if (kind === "cut") {
      span.title = tok.token + ": past the model's length limit, not read";
    } else {
      span.classList.add(tok.step >= 0 ? "up" : "down");
      if (tok.unk) span.classList.add("unk");
      span.style.backgroundColor = stepColor(tok.step);
      span.dataset.step = String(tok.step);
      span.title = tok.token + (tok.unk ? " [UNK]" : "") + ": step " + signed(tok.step) +
        ", running " + fmt(tok.running, 3) + ", without it " + signed(tok.loo);
    }
    box.append(span);
    at = tok.end;
  }
  if (at < chars.length) box.append(chars.slice(at).join(""));
}

function svg(tag, attrs) {
  const el = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  return el;
}

function renderChart(res) {
  const chart = $("chart");
  chart.replaceChildren();
  // drawn in CSS pixels (the viewBox follows the element's size): round dots, crisp text
  const W = Math.max(200, Math.round(chart.clientWidth || 640));
  const H = Math.max(120, Math.round(chart.clientHeight || 220));
  const L = 34, R = 10, T = 10, B = 22;
  chart.setAttribute("viewBox", "0 0 " + W + " " + H);
  const y = (p) => T + (1 - p) * (H - T - B);
  for (const p of [0, 0.5, 1]) {
    chart.append(svg("line", { x1: L, x2: W - R, y1: y(p), y2: y(p), class: p === 0.5 ? "mid" : "grid" }));
    const label = svg("text", { x: L - 6, y: y(p) + 4, class: "axis", "text-anchor": "end" });
    label.textContent = p.toFixed(1);
    chart.append(label);
  }
  const toks = res.tokens.filter((t) => t.running !== null);
  const n = toks.length;
  const x = (i) => L + (n <= 1 ? (W - L - R) / 2 : (i * (W - L - R)) / (n - 1));
  const line = toks.map((t, i) => x(i).toFixed(1) + "," + y(t.running).toFixed(1)).join(" ");
  if (n > 1) chart.append(svg("polyline", { points: line, class: "run" }));
  toks.forEach((t, i) => {
    const dot = svg("circle", { cx: x(i), cy: y(t.running), r: 4, class: "pt", fill: stepColor(t.step) });
    dot.dataset.running = String(t.running);
    const title = svg("title", {});
    title.textContent = (i + 1) + ". " + t.token + ": " + t.running.toFixed(3);
    dot.append(title);
    chart.append(dot);
  });
  const axis = svg("text", { x: W - R, y: H - 6, class: "axis", "text-anchor": "end" });
  axis.textContent = n + " tokens \u2192";
  chart.append(axis);
  $("chart-summary").textContent = n ? "P(" + res.target + ") goes from " +
    fmt(res.baseline, 2) + " with no tokens to " + toks[n - 1].running.toFixed(3) + " after the last." : "";
}

function clearResult(message) {
  $("label").textContent = "\u2013";
  $("label").dataset.label = "";
  $("score").textContent = "";
  $("bar").dataset.sign = "";
  $("bar-fill").style.width = "0";
  $("tokens").replaceChildren();
  $("chart").replaceChildren();
  state.last = null;
  $("chart-summary").textContent = "";
  setStatus(message || "", false);
}

async function explain(text) {
  const seq = ++state.seq;
  if (state.controller) state.controller.abort();
  state.controller = new AbortController();
  setStatus("scoring\u2026", false);
  let r;
  try {
    r = await fetch("/explain", { method: "POST", headers: headers(),
      body: JSON.stringify({ text }), signal: state.controller.signal });
  } catch (err) {
    if (err.name !== "AbortError" && seq === state.seq) setStatus("The server did not answer.", true);
    return;
  }
  const body = await r.json().catch(() => ({}));
  if (seq !== state.seq) return; // a newer request is on its way
  if (r.status === 401) {
    $("key-box").hidden = false;
    setStatus("This server needs an API key: enter it above.", true);
    return;
  }
  if (!r.ok) {
    setStatus(body.error || "HTTP " + r.status, true);
    return;
  }
  const res = body.results[0];
  renderVerdict(res);
  renderTokens(text, res);
  renderChart(res);
  state.last = res;
  setStatus("Scored " + res.tokens.length + " tokens" +
    (res.truncated.length ? " (" + res.truncated.length + " past the limit, not read)" : "") + ".", false);
  document.body.dataset.scored = String(seq);
}

function schedule() {
  clearTimeout(state.timer);
  const text = $("text").value;
  if (!text.trim()) {
    state.seq++;
    clearResult("");
    return;
  }
  state.timer = setTimeout(() => explain(text), DEBOUNCE_MS);
}

function paintLegend() {
  for (const el of document.querySelectorAll(".swatch")) {
    el.style.backgroundColor = stepColor(parseFloat(el.dataset.step));
  }
}

function init() {
  paintLegend();
  $("text").addEventListener("input", schedule);
  for (const b of document.querySelectorAll("button.example")) {
    b.addEventListener("click", () => {
      $("text").value = b.textContent;
      $("text").focus();
      schedule();
    });
  }
  $("api-key").addEventListener("change", async () => {
    state.key = $("api-key").value.trim();
    if (await loadModel()) schedule();
  });
  let resizing = 0;
  window.addEventListener("resize", () => {
    clearTimeout(resizing);
    resizing = setTimeout(() => { if (state.last) renderChart(state.last); }, 100);
  });
  loadModel().catch(() => { $("model-info").textContent = "Could not reach the server."; });
}

document.addEventListener("DOMContentLoaded", init);
