// The console's model of the gateway: calls (as GET /v1/calls returns them, kept current by
// applying events the way the engine does), the event timeline, and each call's audio-quality
// series. It knows nothing of the DOM; views subscribe to its changes.

import { EVENT_TYPES, NATIVE_UNSUPPORTED } from '../../js/src/events.js';

/** The 15 event types of the catalogue, in catalogue order: the client's own list. */
export { EVENT_TYPES };

/** The events that do not exist in Native telephony (CONTRACT §1), from the client. */
export const NOT_IN_NATIVE = new Set(NATIVE_UNSUPPORTED);

/** Most events the timeline keeps; older ones fall off. */
export const TIMELINE_LIMIT = 2000;
/** Most audio points kept per call and channel (an hour at a 30 s interval is 120). */
export const SERIES_LIMIT = 720;

/** One audio-quality point from an AUDIO_STATS payload. */
export function audioPoint(event) {
  const d = event.detail;
  const channel = d.stats === 'outputChannelStats' ? 'output' : 'input';
  const count = d.packetsCount ?? 0;
  const lost = d.packetsLost ?? 0;
  // The engine's loss share (crates/engine/src/audio): lost / (received + lost) for what this
  // side receives, lost / sent for what it sends.
  const total = channel === 'input' ? count + lost : count;
  return {
    seq: event.seq,
    t: Date.parse(event.timestamp),
    channel,
    lossPct: total > 0 ? Math.min(100, (100 * lost) / total) : 0,
    jitter: d.jitterBufferMillis,
    rtt: d.roundTripTimeMillis,
    mos: typeof d.mos === 'number' ? d.mos : null,
  };
}

/** A call's state after `event`, or the same object when the event changes nothing. */
export function applyEvent(call, event) {
  const d = event.detail;
  const at = event.timestamp;
  const base = call ?? {
    callId: d.callId,
    agent: event.agent ?? null,
    lifecycle: 'started',
    callType: d.callType ?? null,
    participants: [],
    muted: false,
    recording: 'active',
    callAttributes: null,
    startedAt: null,
    connectedAt: null,
    endedAt: null,
    closedAt: null,
    firstSeq: event.seq,
    lastSeq: 0,
    eventCount: 0,
    audio: { input: null, output: null },
  };
  if (call && event.seq <= call.lastSeq) return call;
  const next = { ...base, lastSeq: event.seq, updatedAt: at, eventCount: base.eventCount + 1 };
  if (!next.agent && event.agent) next.agent = event.agent;
  const withParticipant = (role) => {
    if (!d.participant || next.participants.some((p) => p.participant === d.participant)) return;
    next.participants = [...next.participants, { participant: d.participant, role, onHold: false }];
  };
  const setHold = (onHold) => {
    next.participants = next.participants.map((p) =>
      p.participant === d.participant ? { ...p, onHold } : p);
  };
  switch (event.type) {
    case 'CALL_STARTED':
      next.lifecycle = 'started';
      next.callType = d.callType ?? next.callType;
      next.startedAt = next.startedAt ?? at;
      withParticipant('initialCaller');
      break;
    case 'CALL_CONNECTED':
      next.lifecycle = 'connected';
      next.callType = d.callType ?? next.callType;
      next.connectedAt = next.connectedAt ?? at;
      if (d.callAttributes) next.callAttributes = d.callAttributes;
      withParticipant('initialCaller');
      break;
    case 'CALL_ENDED':
      next.lifecycle = 'ended';
      next.endedAt = at;
      break;
    case 'WRAP_UP_ENDED':
      next.lifecycle = 'closed';
      next.closedAt = at;
      break;
    case 'HOLD': setHold(true); break;
    case 'RESUME': setHold(false); break;
    case 'MUTE': next.muted = true; break;
    case 'UNMUTE': next.muted = false; break;
    case 'PARTICIPANT_ADDED': withParticipant('thirdParty'); break;
    case 'PARTICIPANT_REMOVED':
      next.participants = next.participants.filter((p) => p.participant !== d.participant);
      break;
    case 'CONFERENCE':
      next.participants = next.participants.map((p) => ({ ...p, onHold: false }));
      break;
    case 'SWAP':
      next.participants = next.participants.map((p) => ({ ...p, onHold: !p.onHold }));
      break;
    case 'PAUSE_RECORDING': next.recording = 'paused'; break;
    case 'RESUME_RECORDING': next.recording = 'active'; break;
    case 'AUDIO_STATS': {
      const channel = d.stats === 'outputChannelStats' ? 'output' : 'input';
      next.audio = {
        ...next.audio,
        [channel]: {
          packetsLost: d.packetsLost, packetsCount: d.packetsCount,
          jitterBufferMillis: d.jitterBufferMillis, roundTripTimeMillis: d.roundTripTimeMillis,
          statsCount: d.statsCount, mos: typeof d.mos === 'number' ? d.mos : null,
          at, seq: event.seq,
        },
      };
      break;
    }
    default:
      return call ?? next;
  }
  return next;
}

/** Whether a call still takes part in the conversation (ringing or connected). */
export const isActive = (call) => call.lifecycle === 'started' || call.lifecycle === 'connected';

/**
 * The console's state. Emits 'calls' (a Set of changed callIds), 'event' (one payload added to
 * the timeline) and 'audio' (callId) to the functions given to `on`.
 */
export class Store {
  constructor() {
    /** callId → call state. */
    this.calls = new Map();
    /** Timeline payloads, oldest first, unique by seq. */
    this.events = [];
    /** Seqs in `events`, to drop a payload seen twice (replay after a snapshot). */
    this.seen = new Set();
    /** callId → { input: point[], output: point[] } */
    this.audio = new Map();
    /** Highest seq applied. */
    this.lastSeq = 0;
    this.listeners = new Map();
  }

  on(topic, fn) {
    if (!this.listeners.has(topic)) this.listeners.set(topic, new Set());
    this.listeners.get(topic).add(fn);
  }

  emit(topic, value) {
    for (const fn of this.listeners.get(topic) ?? []) {
      try {
        fn(value);
      } catch (e) {
        console.warn(`console view failed on ${topic}:`, e);
      }
    }
  }

  /** Takes call snapshots (GET /v1/calls, GET /v1/calls/{id}); a newer local state wins. */
  loadCalls(snapshots) {
    const changed = new Set();
    for (const s of snapshots) {
      const have = this.calls.get(s.callId);
      if (have && have.lastSeq > s.lastSeq) continue;
      this.calls.set(s.callId, s);
      changed.add(s.callId);
    }
    if (changed.size) this.emit('calls', changed);
  }

  /** Applies one payload (live or replayed). Returns false when it was already seen. */
  add(event) {
    if (!event || !event.detail || typeof event.seq !== 'number') return false;
    if (this.seen.has(event.seq)) return false;
    this.seen.add(event.seq);
    this.lastSeq = Math.max(this.lastSeq, event.seq);
    // Keep the timeline in seq order even when a replay arrives after later events.
    let i = this.events.length;
    while (i > 0 && this.events[i - 1].seq > event.seq) i--;
    this.events.splice(i, 0, event);
    if (this.events.length > TIMELINE_LIMIT) {
      for (const old of this.events.splice(0, this.events.length - TIMELINE_LIMIT)) {
        this.seen.delete(old.seq);
      }
    }
    const id = event.detail.callId;
    const before = this.calls.get(id);
    const after = applyEvent(before, event);
    if (after !== before) {
      this.calls.set(id, after);
      this.emit('calls', new Set([id]));
    }
    if (event.type === 'AUDIO_STATS') this.addAudio([event]);
    this.emit('event', event);
    return true;
  }

  /** Adds AUDIO_STATS payloads to their calls' series (history or live), in seq order. */
  addAudio(events) {
    const touched = new Set();
    for (const e of events) {
      if (e.type !== 'AUDIO_STATS') continue;
      const id = e.detail.callId;
      if (!this.audio.has(id)) this.audio.set(id, { input: [], output: [] });
      const point = audioPoint(e);
      const series = this.audio.get(id)[point.channel];
      if (series.some((p) => p.seq === point.seq)) continue;
      let i = series.length;
      while (i > 0 && series[i - 1].seq > point.seq) i--;
      series.splice(i, 0, point);
      if (series.length > SERIES_LIMIT) series.splice(0, series.length - SERIES_LIMIT);
      touched.add(id);
    }
    for (const id of touched) this.emit('audio', id);
  }

  /**
   * Forgets calls that are over, so a console left open for days stays small: closed calls,
   * and calls ended more than `keepEndedMs` ago (Native telephony has no WRAP_UP_ENDED, so
   * its calls never close). Their timeline entries stay until they fall off.
   */
  prune(now, keepEndedMs = 30 * 60 * 1000) {
    const gone = new Set();
    for (const [id, c] of this.calls) {
      const ended = c.endedAt ? Date.parse(c.endedAt) : NaN;
      if (c.lifecycle === 'closed' || (c.lifecycle === 'ended' && now - ended > keepEndedMs)) gone.add(id);
    }
    for (const id of gone) this.calls.delete(id);
    for (const id of this.audio.keys()) if (!this.calls.has(id)) this.audio.delete(id);
    if (gone.size) this.emit('calls', gone);
    return gone.size;
  }
}
