// The live call board: one card per call with its lifecycle, participants, hold, mute,
// recording, quality and ticking duration, and the actions its state allows.

import { duration, esc, mosBand, shortId } from './format.js';
import { isActive } from './store.js';

/** Ended calls (after-call work) kept on the board at most. */
const MAX_ENDED = 12;

const LIFECYCLE_LABEL = { started: 'Ringing', connected: 'Connected', ended: 'Wrap-up', closed: 'Closed' };
const ORDER = { started: 0, connected: 1, ended: 2, closed: 3 };
const PARTICIPANT_TYPE = { initialCaller: 'Initial_Caller', thirdParty: 'Third_Party' };

/**
 * Renders the calls of `store` into `root`. `onAction(callId, action, args, button)` carries an
 * action out and returns a promise; `onSelect(callId)` picks the call the charts show.
 */
export class Board {
  constructor({ root, empty, store, now, onAction, onSelect }) {
    this.root = root;
    this.empty = empty;
    this.store = store;
    this.now = now;
    this.onAction = onAction;
    this.onSelect = onSelect;
    /** callId → card element. */
    this.cards = new Map();
    /** callId → last error text shown on the card. */
    this.errors = new Map();
    /** callIds whose add-participant form is open. */
    this.adding = new Set();
    this.agent = '';
    this.showEnded = true;
    this.selected = null;
    root.addEventListener('click', (e) => this.click(e));
    root.addEventListener('submit', (e) => this.submit(e));
    store.on('calls', (ids) => this.update(ids));
  }

  /** Calls that belong on the board, in board order: ringing, connected, then wrap-up. */
  visibleCalls() {
    const all = [...this.store.calls.values()].filter((c) => !this.agent || c.agent === this.agent);
    const live = all.filter(isActive);
    const ended = this.showEnded
      ? all.filter((c) => c.lifecycle === 'ended').sort((a, b) => b.lastSeq - a.lastSeq).slice(0, MAX_ENDED)
      : [];
    return [...live, ...ended].sort((a, b) => ORDER[a.lifecycle] - ORDER[b.lifecycle] || a.firstSeq - b.firstSeq);
  }

  setAgent(agent) { this.agent = agent; this.update(); }
  setShowEnded(show) { this.showEnded = show; this.update(); }
  select(callId) {
    this.selected = callId;
    for (const [id, card] of this.cards) card.classList.toggle('selected', id === callId);
  }

  /** Re-renders the changed calls (all when `ids` is absent) and restores board order. */
  update(ids) {
    const calls = this.visibleCalls();
    const wanted = new Set(calls.map((c) => c.callId));
    for (const [id, card] of this.cards) {
      if (!wanted.has(id)) {
        card.remove();
        this.cards.delete(id);
      }
    }
    let previous = null;
    for (const call of calls) {
      let card = this.cards.get(call.callId);
      if (!card) {
        card = document.createElement('article');
        card.className = 'card';
        card.dataset.callId = call.callId;
        this.cards.set(call.callId, card);
        this.render(card, call);
      } else if (!ids || ids.has(call.callId)) {
        this.render(card, call);
      }
      card.classList.toggle('selected', call.callId === this.selected);
      // Move only what is out of place, so focus and hover survive updates.
      const expected = previous ? previous.nextSibling : this.root.firstChild;
      if (expected !== card) this.root.insertBefore(card, expected);
      previous = card;
    }
    this.empty.hidden = calls.length > 0;
  }

  /** Fills one card; each part is rewritten only when its markup changed. */
  render(card, call) {
    card.dataset.lifecycle = call.lifecycle;
    card.dataset.agent = call.agent ?? '';
    const caller = call.participants.find((p) => p.role === 'initialCaller') ?? call.participants[0];
    const direction = call.callType === 'outbound' ? '↗ outbound' : call.callType === 'inbound' ? '↙ inbound' : '';
    const head = `
      <div class="card-head">
        <div class="card-title">
          <div class="who" title="${esc(caller?.participant ?? '')}">${esc(caller?.participant ?? 'unknown party')}</div>
          <div class="meta">agent <b>${esc(call.agent ?? '—')}</b> · ${esc(direction)} · <span class="mono" title="${esc(call.callId)}">${esc(shortId(call.callId))}</span></div>
        </div>
        <div class="right">
          <span class="badge lifecycle-${esc(call.lifecycle)}" data-role="lifecycle">${LIFECYCLE_LABEL[call.lifecycle] ?? esc(call.lifecycle)}</span>
          <div class="duration" data-role="duration" ${durationAttrs(call)}></div>
        </div>
      </div>`;
    const parts = call.participants.map((p) => {
      const type = PARTICIPANT_TYPE[p.role] ?? 'Initial_Caller';
      const connected = call.lifecycle === 'connected';
      const buttons = !connected ? '' : p.onHold
        ? `<button class="btn small good" data-action="resume" data-participant-type="${type}">Resume</button>`
        : `<button class="btn small" data-action="hold" data-participant-type="${type}">Hold</button>`;
      const drop = connected && p.role === 'thirdParty'
        ? `<button class="btn small danger" data-action="end-call" data-participant-type="Third_Party" title="Drop this participant">Drop</button>` : '';
      return `<li class="participant${p.onHold ? ' on-hold' : ''}" data-participant="${esc(p.participant)}" data-on-hold="${p.onHold}">
          <span class="name">${esc(p.participant)}</span>
          <span class="role">${p.role === 'thirdParty' ? 'third party' : 'caller'}</span>
          ${p.onHold ? '<span class="badge hold">On hold</span>' : ''}
          ${buttons}${drop}
        </li>`;
    }).join('');
    const mos = bestMos(call);
    const band = mosBand(mos);
    const input = call.audio?.input;
    const flags = [
      call.muted ? '<span class="badge muted" data-role="muted">Muted</span>' : '',
      call.lifecycle === 'connected'
        ? call.recording === 'paused'
          ? '<span class="badge rec-paused" data-role="recording">Recording paused</span>'
          : '<span class="badge rec" data-role="recording">Recording</span>'
        : '',
      band ? `<span class="badge mos-${band}" data-role="mos" title="Lowest MOS of the last interval, both channels">MOS ${mos.toFixed(2)}</span>` : '',
      input ? `<span class="badge" title="Received packets lost in the last interval">loss ${lossText(input)}</span>` : '',
      call.participants.some((p) => p.onHold) ? '<span class="badge hold" data-role="hold">Hold</span>' : '',
    ].join('');
    const actions = this.actionsHtml(call);
    const form = this.adding.has(call.callId) && call.lifecycle === 'connected' ? `
      <form class="add-form" data-form="add-participant">
        <input type="text" name="contactValue" placeholder="+1 415 555 0123 or queue name" aria-label="Contact to add" required>
        <select name="contactType" aria-label="Contact type">
          <option value="PhoneNumber">Phone number</option><option value="Queue">Queue</option><option value="Agent">Agent</option>
        </select>
        <label class="check"><input type="checkbox" name="isBlindTransfer"> Blind transfer</label>
        <button class="btn small primary" type="submit">Add</button>
        <button class="btn small" type="button" data-action="cancel-add">Cancel</button>
      </form>` : '';
    const error = esc(this.errors.get(call.callId) ?? '');
    setPart(card, 'head', head);
    setPart(card, 'participants', `<ul class="participants">${parts}</ul>`);
    setPart(card, 'flags', `<div class="flags">${flags}</div>`);
    setPart(card, 'actions', actions ? `<div class="actions">${actions}</div>` : '');
    setPart(card, 'form', form);
    setPart(card, 'error', `<div class="card-error" role="alert">${error}</div>`);
    const clock = card.querySelector('[data-role="duration"]');
    if (clock) clock.textContent = this.durationText(call);
  }

  actionsHtml(call) {
    if (call.lifecycle === 'started') {
      return `<button class="btn small good" data-action="accept-call">Accept</button>
        <button class="btn small danger" data-action="decline-call">Decline</button>`;
    }
    if (call.lifecycle !== 'connected') return '';
    const n = call.participants.length;
    const held = call.participants.filter((p) => p.onHold).length;
    return [
      call.muted
        ? '<button class="btn small good" data-action="unmute">Unmute</button>'
        : '<button class="btn small" data-action="mute">Mute</button>',
      call.recording === 'paused'
        ? '<button class="btn small good" data-action="resume-recording">Resume recording</button>'
        : '<button class="btn small" data-action="pause-recording">Pause recording</button>',
      n >= 2 ? '<button class="btn small" data-action="merge" title="Conference: take everyone off hold">Merge</button>' : '',
      n === 2 && held === 1 ? '<button class="btn small" data-action="swap">Swap</button>' : '',
      this.adding.has(call.callId) ? '' : '<button class="btn small" data-action="open-add">Add participant</button>',
      '<button class="btn small danger" data-action="end-call">End call</button>',
    ].join('');
  }

  durationText(call) {
    const now = this.now();
    if (call.lifecycle === 'started') return call.startedAt ? duration(now - Date.parse(call.startedAt)) : '';
    if (call.lifecycle === 'connected') return call.connectedAt ? duration(now - Date.parse(call.connectedAt)) : '';
    if (call.connectedAt && call.endedAt) return duration(Date.parse(call.endedAt) - Date.parse(call.connectedAt));
    return '';
  }

  /** Advances every ticking duration; called once a second. */
  tick() {
    for (const [id, card] of this.cards) {
      const call = this.store.calls.get(id);
      const el = card.querySelector('[data-role="duration"]');
      if (call && el && (call.lifecycle === 'started' || call.lifecycle === 'connected')) {
        el.textContent = this.durationText(call);
      }
    }
  }

  showError(callId, text) {
    if (text) this.errors.set(callId, text); else this.errors.delete(callId);
    const call = this.store.calls.get(callId);
    const card = this.cards.get(callId);
    if (call && card) this.render(card, call);
  }

  click(e) {
    const button = e.target.closest('button[data-action]');
    const card = e.target.closest('.card');
    if (!card) return;
    const callId = card.dataset.callId;
    if (!button) {
      if (!e.target.closest('form, input, select, label')) this.onSelect(callId);
      return;
    }
    const action = button.dataset.action;
    if (action === 'open-add' || action === 'cancel-add') {
      if (action === 'open-add') this.adding.add(callId); else this.adding.delete(callId);
      this.update(new Set([callId]));
      card.querySelector('input[name="contactValue"]')?.focus();
      return;
    }
    const args = {};
    if (button.dataset.participantType) args.participantType = button.dataset.participantType;
    this.run(callId, action, args, button);
  }

  submit(e) {
    const form = e.target.closest('form[data-form="add-participant"]');
    if (!form) return;
    e.preventDefault();
    const callId = form.closest('.card').dataset.callId;
    const data = new FormData(form);
    const args = {
      contactType: String(data.get('contactType') || 'PhoneNumber'),
      contactValue: String(data.get('contactValue') || '').trim(),
      isBlindTransfer: data.get('isBlindTransfer') === 'on',
    };
    this.run(callId, 'add-participant', args, form.querySelector('button[type="submit"]'))
      .then((ok) => { if (ok) { this.adding.delete(callId); this.update(new Set([callId])); } });
  }

  /** Runs an action with its button disabled; the error stays on the card until the next try. */
  async run(callId, action, args, button) {
    this.showError(callId, null);
    if (button) button.disabled = true;
    try {
      await this.onAction(callId, action, args);
      return true;
    } catch (err) {
      this.showError(callId, `${action} failed: ${err.message}`);
      return false;
    } finally {
      if (button) button.disabled = false;
    }
  }
}

function durationAttrs(call) {
  return `title="${call.lifecycle === 'started' ? 'Ringing for' : call.lifecycle === 'connected' ? 'Connected for' : 'Talk time'}"`;
}

/** The worse MOS of the two channels' last intervals. */
function bestMos(call) {
  const values = [call.audio?.input?.mos, call.audio?.output?.mos].filter((m) => typeof m === 'number');
  return values.length ? Math.min(...values) : null;
}

function lossText(stats) {
  const total = stats.packetsCount + stats.packetsLost;
  return total > 0 ? `${((100 * stats.packetsLost) / total).toFixed(1)}%` : '–';
}

/** The markup each card part was last given. */
const rendered = new WeakMap();

/** Sets the markup of one named part of a card, creating it in order, only when it changed. */
function setPart(card, name, html) {
  let part = card.querySelector(`:scope > [data-part="${name}"]`);
  if (!part) {
    part = document.createElement('div');
    part.dataset.part = name;
    card.appendChild(part);
  }
  if (rendered.get(part) !== html) {
    part.innerHTML = html;
    rendered.set(part, html);
  }
}
