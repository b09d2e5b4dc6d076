// The agent's calls as the client sees them from delivered events, to know which call the
// actions act on: the most recent call of the agent that has not ended (as in Salesforce,
// where the toolkit's actions apply to the rep's current call).

/** Most calls tracked at once; beyond it the oldest is forgotten (calls that never end). */
const MAX_CALLS = 1000;

export class CallTracker {
  /** callId → call state, in the order the calls were first seen (the last is the newest). */
  #calls = new Map();

  /**
   * Updates the calls with one delivered payload.
   * @param {{type: string, detail: Record<string, unknown>, seq: number, agent?: string}} payload
   */
  apply(payload) {
    const d = payload.detail ?? {};
    const callId = d.callId;
    if (typeof callId !== 'string') return;
    const type = payload.type;
    if (type === 'CALL_ENDED' || type === 'WRAP_UP_ENDED') {
      this.#calls.delete(callId);
      return;
    }
    let call = this.#calls.get(callId);
    if (!call) {
      call = {
        callId,
        callType: null,
        participant: null,
        state: type === 'CALL_STARTED' ? 'ringing' : 'connected',
        agent: payload.agent ?? null,
        muted: false,
        recording: 'active',
        callAttributes: null,
        participants: new Map(),
        firstSeq: payload.seq,
        lastSeq: payload.seq,
      };
      this.#calls.set(callId, call);
      if (this.#calls.size > MAX_CALLS) {
        this.#calls.delete(this.#calls.keys().next().value);
      }
    }
    call.lastSeq = payload.seq;
    if (payload.agent && !call.agent) call.agent = payload.agent;
    const who = typeof d.participant === 'string' ? d.participant : null;
    switch (type) {
      case 'CALL_STARTED':
      case 'CALL_CONNECTED':
        if (type === 'CALL_CONNECTED') call.state = 'connected';
        if (typeof d.callType === 'string') call.callType = d.callType;
        if (who !== null) {
          call.participant = who;
          if (!call.participants.has(who)) {
            call.participants.set(who, { participant: who, role: 'initialCaller', onHold: false });
          }
        }
        if (d.callAttributes && typeof d.callAttributes === 'object') {
          call.callAttributes = d.callAttributes;
        }
        break;
      case 'HOLD':
      case 'RESUME': {
        const p = who !== null ? call.participants.get(who) : undefined;
        if (p) p.onHold = type === 'HOLD';
        break;
      }
      case 'MUTE':
        call.muted = true;
        break;
      case 'UNMUTE':
        call.muted = false;
        break;
      case 'PARTICIPANT_ADDED':
        if (who !== null) {
          call.participants.set(who, { participant: who, role: 'thirdParty', onHold: false });
        }
        break;
      case 'PARTICIPANT_REMOVED':
        if (who !== null) call.participants.delete(who);
        break;
      case 'CONFERENCE':
        for (const p of call.participants.values()) p.onHold = false;
        break;
      case 'SWAP':
        for (const p of call.participants.values()) p.onHold = !p.onHold;
        break;
      case 'PAUSE_RECORDING':
        call.recording = 'paused';
        break;
      case 'RESUME_RECORDING':
        call.recording = 'active';
        break;
      default:
        break;
    }
  }

  /** The newest call that has not ended, as a frozen snapshot, or `null`. */
  current() {
    let last = null;
    for (const call of this.#calls.values()) last = call;
    return last === null ? null : snapshot(last);
  }

  /** Every call that has not ended, oldest first, as frozen snapshots. */
  all() {
    return [...this.#calls.values()].map(snapshot);
  }
}

function snapshot(call) {
  return Object.freeze({
    callId: call.callId,
    callType: call.callType,
    participant: call.participant,
    state: call.state,
    agent: call.agent,
    muted: call.muted,
    recording: call.recording,
    callAttributes: call.callAttributes,
    participants: Object.freeze([...call.participants.values()].map((p) => Object.freeze({ ...p }))),
    firstSeq: call.firstSeq,
    lastSeq: call.lastSeq,
  });
}
