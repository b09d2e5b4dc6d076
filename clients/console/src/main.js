// The voicetk console: wires the gateway (initial state over HTTP, live events and actions
// through the voicetk JS client) to the views.

import './console.css';
import { Board } from './board.js';
import { Gateway } from './gateway.js';
import { isActive, Store } from './store.js';
import { Quality } from './quality.js';
import { Timeline } from './timeline.js';
import { esc, shortId } from './format.js';

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
// `?token=` (the documented name); `?access_token=` as the previous console took it. The token
// is taken out of the address bar (and so out of the history and of links copied from it) and
// kept for this tab only, so a reload still works.
const token = takeToken(params);
const agentScope = params.get('agent') || undefined;

function takeToken(params) {
  const fromUrl = params.get('token') || params.get('access_token');
  if (fromUrl) {
    try { sessionStorage.setItem('voicetk-token', fromUrl); } catch { /* storage disabled */ }
    params.delete('token');
    params.delete('access_token');
    const rest = params.toString();
    history.replaceState(null, '', `${location.pathname}${rest ? `?${rest}` : ''}${location.hash}`);
    return fromUrl;
  }
  try { return sessionStorage.getItem('voicetk-token') || undefined; } catch { return undefined; }
}

const store = new Store();
const gateway = new Gateway({ token, agent: agentScope, store });

/** Server clock minus local clock, from live events' timestamps (the smallest delay seen). */
let skew = null;
const now = () => Date.now() + (skew ?? 0);

const quality = new Quality({
  canvases: { mos: $('chart-mos'), loss: $('chart-loss'), jitter: $('chart-jitter'), rtt: $('chart-rtt') },
  empty: $('quality-empty'),
  title: $('quality-title'),
  store,
});
const board = new Board({
  root: $('board'),
  empty: $('board-empty'),
  store,
  now,
  onAction: (callId, action, args) => perform(callId, action, args),
  onSelect: (callId) => selectCall(callId),
});
const timeline = new Timeline({
  list: $('timeline'),
  chips: $('type-filters'),
  typesSummary: $('types-summary'),
  callSelect: $('timeline-call'),
  search: $('timeline-search'),
  pause: $('timeline-pause'),
  count: $('timeline-count'),
  store,
  onCall: (callId) => { if (store.calls.has(callId)) selectCall(callId); },
});

/** Shows a message in the corner until closed or for a while (errors longer). */
function toast(title, text, { ok = false } = {}) {
  const el = document.createElement('div');
  el.className = `toast${ok ? ' ok' : ''}`;
  el.setAttribute('role', ok ? 'status' : 'alert');
  el.innerHTML = `<div class="text"><div class="title">${esc(title)}</div><div>${esc(text)}</div></div><button type="button" aria-label="Dismiss">×</button>`;
  el.querySelector('button').addEventListener('click', () => el.remove());
  $('toasts').appendChild(el);
  while ($('toasts').childElementCount > 5) $('toasts').firstElementChild.remove();
  // Errors also stay on the call's card; the corner only needs them for a while.
  setTimeout(() => el.remove(), ok ? 4000 : 15000);
}

/** What an error says on screen: HTTP status and code, then the server's message. */
function describe(err) {
  const status = err?.status ? `${err.status} ` : '';
  const code = err?.code ? `${err.code}: ` : '';
  return `${status}${code}${err?.message ?? String(err)}`;
}

async function perform(callId, action, args) {
  try {
    await gateway.act(callId, action, args);
  } catch (err) {
    const e = new Error(describe(err));
    toast(`${action} failed on call ${shortId(callId)}`, describe(err));
    throw e;
  }
}

let selected = null;
function selectCall(callId) {
  selected = callId;
  board.select(callId);
  $('quality-call').value = callId ?? '';
  quality.show(callId);
  const call = callId ? store.calls.get(callId) : null;
  $('quality-title').textContent = call
    ? `Audio quality · ${call.participants[0]?.participant ?? shortId(callId)}${call.agent ? ` (${call.agent})` : ''}`
    : 'Audio quality';
  if (callId) gateway.loadHistory(callId).catch((err) => toast('Could not load call history', describe(err)));
}

/** Keeps the selectors, summary figures and chart choice in step with the calls. */
function refreshSummary() {
  const calls = [...store.calls.values()];
  const visible = calls.filter((c) => isActive(c) || c.lifecycle === 'ended');
  const agents = [...new Set(calls.map((c) => c.agent).filter(Boolean))].sort();
  const agentSelect = $('agent-filter');
  const have = [...agentSelect.options].map((o) => o.value).slice(1);
  if (have.join('\n') !== agents.join('\n')) {
    const current = agentSelect.value;
    agentSelect.replaceChildren(new Option('All agents', ''), ...agents.map((a) => new Option(a, a)));
    agentSelect.value = agents.includes(current) ? current : '';
  }
  const active = calls.filter(isActive).sort((a, b) => a.firstSeq - b.firstSeq);
  const qualitySelect = $('quality-call');
  const options = [new Option('Select a call', ''), ...visible.map((c) =>
    new Option(`${shortId(c.callId)} · ${c.agent ?? '—'} · ${c.participants[0]?.participant ?? ''}`, c.callId))];
  const same = options.length === qualitySelect.options.length
    && options.every((o, i) => o.value === qualitySelect.options[i].value && o.text === qualitySelect.options[i].text);
  if (!same) {
    qualitySelect.replaceChildren(...options);
    qualitySelect.value = selected && visible.some((c) => c.callId === selected) ? selected : '';
  }
  timeline.syncCalls(visible);
  const connected = active.filter((c) => c.lifecycle === 'connected');
  $('kpi-connected').textContent = connected.length;
  $('kpi-ringing').textContent = active.length - connected.length;
  $('kpi-hold').textContent = connected.filter((c) => c.participants.some((p) => p.onHold)).length;
  $('kpi-wrap').textContent = calls.filter((c) => c.lifecycle === 'ended').length;
  const mos = connected.flatMap((c) => [c.audio?.input?.mos, c.audio?.output?.mos]).filter((m) => typeof m === 'number');
  $('kpi-mos').textContent = mos.length ? (mos.reduce((a, b) => a + b, 0) / mos.length).toFixed(2) : '–';
  // Keep a call on the charts: the selected one while it is visible, else the oldest connected.
  if (!selected || !visible.some((c) => c.callId === selected)) {
    const next = connected[0] ?? active[0] ?? null;
    if (next?.callId !== selected) selectCall(next?.callId ?? null);
  }
}

let summaryQueued = false;
store.on('calls', () => {
  if (summaryQueued) return;
  summaryQueued = true;
  requestAnimationFrame(() => { summaryQueued = false; refreshSummary(); });
});
store.on('event', (event) => {
  $('kpi-seq').textContent = String(store.lastSeq);
  if (!event.replayed && event.timestamp) {
    const s = Date.parse(event.timestamp) - Date.now();
    if (!Number.isNaN(s) && (skew === null || s > skew)) skew = s;
  }
});

gateway.onState((state, detail) => {
  const conn = $('conn');
  conn.dataset.state = state;
  $('conn-text').textContent = {
    connecting: 'connecting…', live: 'live', disconnected: 'reconnecting…', error: 'error',
  }[state] ?? state;
  if (detail) conn.title = detail;
});

$('agent-filter').addEventListener('change', (e) => board.setAgent(e.target.value));
$('show-ended').addEventListener('change', (e) => board.setShowEnded(e.target.checked));
$('quality-call').addEventListener('change', (e) => selectCall(e.target.value || null));
$('dial').addEventListener('submit', async (e) => {
  e.preventDefault();
  const input = $('dial-number');
  const number = input.value.trim();
  if (!number) return;
  const button = e.target.querySelector('button');
  button.disabled = true;
  try {
    const callId = await gateway.dial(number);
    input.value = '';
    toast('Dialing', `${number}${callId ? ` (call ${shortId(callId)})` : ''}`, { ok: true });
  } catch (err) {
    toast(`Dial ${number} failed`, describe(err));
  } finally {
    button.disabled = false;
  }
});
setInterval(() => board.tick(), 1000);
setInterval(() => store.prune(now()), 30_000);

// Debug handle for the browser tests and for engineers at the devtools prompt.
window.voicetkConsole = { store, gateway, board, timeline, quality, get charts() { return quality.charts; } };

gateway.start().catch((err) => {
  toast('Cannot connect to voicetk', describe(err));
});
