// The console's link to voicetk. Live events (with the replay of calls in progress), every
// call action (`api.forCall(callId)`) and dialing go through the voicetk JS client — the very
// bundle the gateway serves at /client/voicetk.js; the console itself only reads: the call
// snapshot (GET /v1/calls) and a selected call's history (GET /v1/calls/{id}).

import * as voicetk from '/client/voicetk.js';
import { EVENT_TYPES, NOT_IN_NATIVE } from './store.js';

/** Error of a console HTTP request, shaped like the client's (code, status, message). */
class RequestError extends Error {
  constructor(code, message, status) {
    super(message);
    this.code = code;
    this.status = status;
  }
}

export class Gateway {
  constructor({ token, agent, store }) {
    this.token = token;
    this.agent = agent;
    this.store = store;
    this.api = null;
    this.stateFns = [];
    this.telephony = 'partner';
  }

  /** Calls `fn(state, detail)` on connection changes: connecting, live, disconnected, error. */
  onState(fn) { this.stateFns.push(fn); }

  setState(state, detail) {
    for (const fn of this.stateFns) fn(state, detail);
  }

  async get(path) {
    const headers = { accept: 'application/json' };
    if (this.token) headers.authorization = `Bearer ${this.token}`;
    const res = await fetch(path, { headers });
    const body = await res.json().catch(() => null);
    if (!res.ok) {
      throw new RequestError(body?.error?.code ?? 'http_error', body?.error?.message ?? `HTTP ${res.status}`, res.status);
    }
    return body;
  }

  /**
   * Follows the live feed through the client — its first payloads are the replay of the calls
   * in progress (`"replayed": true`) — then loads the call snapshot (GET /v1/calls), taken
   * after the subscription started so nothing falls between the two.
   */
  async start() {
    this.setState('connecting');
    const api = await voicetk.connect({ url: location.origin, token: this.token, agent: this.agent });
    this.api = api;
    this.telephony = api.telephony ?? 'partner';
    const deliver = (payload) => this.store.add(payload);
    for (const type of EVENT_TYPES) {
      if (this.telephony === 'native' && NOT_IN_NATIVE.has(type)) continue;
      api.addTelephonyEventListener(type, deliver);
    }
    api.addEventListener('connected', () => this.setState('live'));
    api.addEventListener('disconnected', (e) =>
      this.setState('disconnected', `connection lost (${e.detail?.code ?? ''} ${e.detail?.reason ?? ''}); reconnecting`));
    api.addEventListener('closed', () => this.setState('error', 'the client closed'));
    api.addEventListener('error', (e) => {
      // A listener of ours that threw stays in the devtools console; connection trouble is
      // shown on the page instead.
      if (e.detail?.source === 'listener') return;
      e.preventDefault();
      this.setState(api.state === 'connected' ? 'live' : 'error', e.detail?.error?.message ?? 'connection error');
    });
    this.setState('live');
    // Calls in wrap-up are not replayed; the snapshot has them (and everything else, no older
    // than the subscription: the store keeps the newer of snapshot and event).
    const { calls } = await this.get('/v1/calls?all=true');
    this.store.loadCalls((calls ?? []).filter((c) => !this.agent || c.agent === this.agent));
  }

  /** Adds a call's stored events (state, timeline, audio history) to the store. */
  async loadHistory(callId) {
    const { call, events } = await this.get(`/v1/calls/${encodeURIComponent(callId)}`);
    if (call) this.store.loadCalls([call]);
    for (const e of events ?? []) this.store.add(e);
  }

  /**
   * Carries out `action` (CONTRACT §4's name) on `callId` through the client's
   * `forCall(callId)` — the console shows many calls, any of which may be acted on, not only
   * the client's current call — and resolves with the confirming event's payload once the
   * client delivered it. A refusal rejects with the client's VoicetkError (code, status,
   * message).
   */
  async act(callId, action, args = {}) {
    if (!this.api) throw new RequestError('not_connected', 'not connected to voicetk yet');
    return invoke(this.api.forCall(callId), action, args);
  }

  /** Places a call; resolves with its callId. */
  async dial(phoneNumber) {
    if (!this.api) throw new RequestError('not_connected', 'not connected to voicetk yet');
    const result = await this.api.startPreviewCall(phoneNumber);
    return result?.callId ?? result?.detail?.callId ?? null;
  }
}

/**
 * Calls the client method that stands for `action` (CONTRACT §4 names → Voice Toolkit API) on
 * `call`, the actions of one call (`api.forCall(callId)`).
 */
function invoke(call, action, args) {
  switch (action) {
    case 'accept-call': return call.acceptCall();
    case 'decline-call': return call.declineCall();
    case 'end-call': return call.endCall(args.participantType);
    case 'mute': return call.mute();
    case 'unmute': return call.unmute();
    case 'hold': return call.hold(args.participantType);
    case 'resume': return call.resume(args.participantType);
    case 'pause-recording': return call.pauseRecording();
    case 'resume-recording': return call.resumeRecording();
    case 'merge': return call.merge();
    case 'swap': return call.swap();
    case 'add-participant': return call.addParticipant(args.contactType, args.contactValue, args.isBlindTransfer);
    case 'send-digits': return call.sendDigits(args.digits);
    default: throw new RequestError('unknown_action', `unknown action ${action}`);
  }
}
