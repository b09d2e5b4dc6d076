// The event timeline: newest first, filtered by event type, call and free text, each row
// expandable to its full JSON payload.

import { clock, esc, kindOf, shortId, summary } from './format.js';
import { EVENT_TYPES } from './store.js';

/** Rows kept in the DOM: the newest matching events. */
const MAX_ROWS = 400;

export class Timeline {
  constructor({ list, chips, typesSummary, callSelect, search, pause, count, store, onCall }) {
    this.list = list;
    this.typesSummary = typesSummary;
    this.chips = chips;
    this.callSelect = callSelect;
    this.search = search;
    this.pauseButton = pause;
    this.count = count;
    this.store = store;
    this.onCall = onCall;
    /** Types shown. */
    this.types = new Set(EVENT_TYPES);
    this.callId = '';
    this.text = '';
    this.paused = false;
    /** Matching events that arrived while paused. */
    this.pending = 0;
    this.renderChips();
    chips.addEventListener('click', (e) => {
      const chip = e.target.closest('button[data-type]');
      if (!chip) return;
      const type = chip.dataset.type;
      if (type === '*all') this.types = new Set(EVENT_TYPES);
      else if (type === '*none') this.types = new Set();
      else if (this.types.has(type)) this.types.delete(type);
      else this.types.add(type);
      this.renderChips();
      this.renderAll();
    });
    callSelect.addEventListener('change', () => this.setCall(callSelect.value));
    search.addEventListener('input', () => {
      this.text = search.value.trim().toLowerCase();
      this.renderAll();
    });
    pause.addEventListener('click', () => {
      this.paused = !this.paused;
      pause.setAttribute('aria-pressed', String(this.paused));
      if (!this.paused) this.renderAll();
      this.renderCount();
    });
    list.addEventListener('click', (e) => {
      const link = e.target.closest('button[data-call]');
      if (link) {
        this.setCall(link.dataset.call);
        this.onCall?.(link.dataset.call);
        return;
      }
      const row = e.target.closest('li[data-seq]');
      if (row) this.toggleJson(row);
    });
    store.on('event', (event) => this.add(event));
  }

  /** Shows only `callId`'s events ('' for every call). */
  setCall(callId) {
    this.callId = callId;
    if (![...this.callSelect.options].some((o) => o.value === callId)) {
      this.callSelect.add(new Option(shortId(callId), callId));
    }
    this.callSelect.value = callId;
    this.renderAll();
  }

  matches(event) {
    if (!this.types.has(event.type)) return false;
    if (this.callId && event.detail.callId !== this.callId) return false;
    if (this.text) {
      const hay = `${event.type} ${event.agent ?? ''} ${JSON.stringify(event.detail)}`.toLowerCase();
      if (!hay.includes(this.text)) return false;
    }
    return true;
  }

  renderChips() {
    if (this.typesSummary) {
      const n = this.types.size;
      this.typesSummary.textContent = n === EVENT_TYPES.length ? `all ${n}`
        : n === 0 ? 'none' : `${n} of ${EVENT_TYPES.length}: ${EVENT_TYPES.filter((t) => this.types.has(t)).join(', ')}`;
    }
    const chip = (type) => `<button type="button" class="chip" data-type="${type}" aria-pressed="${this.types.has(type)}">${type}</button>`;
    this.chips.innerHTML = `<button type="button" class="chip" data-type="*all" aria-pressed="false">All</button>`
      + `<button type="button" class="chip" data-type="*none" aria-pressed="false">None</button>`
      + EVENT_TYPES.map(chip).join('');
  }

  row(event) {
    const li = document.createElement('li');
    li.dataset.seq = event.seq;
    li.dataset.type = event.type;
    li.dataset.callId = event.detail.callId;
    if (event.replayed) li.className = 'replayed';
    const t = Date.parse(event.timestamp);
    const agent = event.agent ? ` · ${esc(event.agent)}` : '';
    const warn = Array.isArray(event.warnings) && event.warnings.length ? ' <span class="badge warn">warning</span>' : '';
    li.innerHTML = `<span class="seq">${event.seq}</span>`
      + `<span class="time" title="${esc(event.timestamp)}">${Number.isNaN(t) ? '' : clock(t)}</span>`
      + `<span class="type k-${kindOf(event.type)}">${event.type}</span>`
      + `<span class="what"><button type="button" class="call-link mono" data-call="${esc(event.detail.callId)}" title="Show only call ${esc(event.detail.callId)}">${esc(shortId(event.detail.callId))}</button>${agent} · ${esc(summary(event))}${event.replayed ? ' <span class="muted">(replayed)</span>' : ''}${warn}</span>`;
    li.title = 'Click to show the payload';
    return li;
  }

  toggleJson(row) {
    const open = row.querySelector('pre');
    if (open) { open.remove(); return; }
    const event = this.store.events.find((e) => e.seq === Number(row.dataset.seq));
    if (!event) return;
    const pre = document.createElement('pre');
    pre.className = 'mono small';

    pre.textContent = JSON.stringify(event, null, 2);
    row.appendChild(pre);
  }

  add(event) {
    if (!this.matches(event)) return;
    if (this.paused) {
      this.pending++;
      this.renderCount();
      return;
    }
    const row = this.row(event);
    // Newest first; a replayed or late event goes where its seq belongs.
    let before = this.list.firstElementChild;
    while (before && Number(before.dataset.seq) > event.seq) before = before.nextElementSibling;
    this.list.insertBefore(row, before);
    while (this.list.childElementCount > MAX_ROWS) this.list.lastElementChild.remove();
    this.renderCount();
  }

  renderAll() {
    this.pending = 0;
    const rows = [];
    for (let i = this.store.events.length - 1; i >= 0 && rows.length < MAX_ROWS; i--) {
      const e = this.store.events[i];
      if (this.matches(e)) rows.push(this.row(e));
    }
    this.list.replaceChildren(...rows);
    this.renderCount();
  }

  renderCount() {
    const shown = this.list.childElementCount;
    const paused = this.paused ? ` · paused, ${this.pending} new` : '';
    this.count.textContent = `${shown} event${shown === 1 ? '' : 's'} shown${shown >= MAX_ROWS ? ' (newest)' : ''}${paused}`;
  }

  /** Keeps the call filter's options in step with the calls the console knows. */
  syncCalls(calls) {
    const current = this.callSelect.value;
    const options = [new Option('All calls', '')];
    for (const c of calls) {
      const who = c.participants[0]?.participant ?? '';
      options.push(new Option(`${shortId(c.callId)} · ${c.agent ?? '—'} · ${who}`, c.callId));
    }
    if (current && !calls.some((c) => c.callId === current)) options.push(new Option(shortId(current), current));
    const same = options.length === this.callSelect.options.length
      && options.every((o, i) => o.value === this.callSelect.options[i].value && o.text === this.callSelect.options[i].text);
    if (same) return;
    this.callSelect.replaceChildren(...options);
    this.callSelect.value = current;
  }
}
