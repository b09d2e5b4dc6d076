// The console's link to voicetk. Live events (with the replay of calls in progress) and call
// actions go through the voicetk JS client — the very bundle the gateway serves at
// /client/voicetk.js; the call snapshot and a selected call's history come from GET /v1/calls
// and GET /v1/calls/{id}.

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
    /** How many actions went through the client and how many the console posted itself. */
    this.routes = { client: 0, http: 0 };
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
   * Carries out `action` on `callId` and resolves once the confirming event is in the log.
   * The client acts on the current call, as the Voice Toolkit does (the newest call not ended
   * of the calls it follows): when `callId` is that call the client carries the action out.
   * A console shows many calls at once, and the client cannot yet be told which one to act
   * on, so for any other call the console posts the same action for that call itself
   * (POST /v1/calls/{id}/actions/{action}, the endpoint the client uses too).
   */
  async act(callId, action, args = {}) {
    if (!this.api) throw new RequestError('not_connected', 'not connected to voicetk yet');
    if (this.api.currentCall?.callId === callId) {
      this.routes.client++;
      return invoke(this.api, action, args);
    }
    this.routes.http++;
    return this.post(`/v1/calls/${encodeURIComponent(callId)}/actions/${action}`, args);
  }

  async post(path, body) {
    const headers = { accept: 'application/json', 'content-type': 'application/json' };
    if (this.token) headers.authorization = `Bearer ${this.token}`;
    const res = await fetch(path, { method: 'POST', headers, body: JSON.stringify(body ?? {}) });
    const json = await res.json().catch(() => null);
    if (!res.ok) {
      throw new RequestError(json?.error?.code ?? 'http_error', json?.error?.message ?? `HTTP ${res.status}`, res.status);
    }
    return json;
  }

  /** Places a call; resolves with its callId. */
  async dial(phoneNumber) {
    if (!this.api) throw new RequestError('not_connected', 'not connected to voicetk yet');
    const result = await this.api.startPreviewCall(phoneNumber);
    return result?.callId ?? result?.detail?.callId ?? null;
  }
}

/** Calls the client method that stands for `action` (CONTRACT §4 names → Voice Toolkit API). */
function invoke(api, action, args) {
  switch (action) {
    case 'accept-call': return api.acceptCall();
    case 'decline-call': return api.declineCall();
    case 'end-call': return api.endCall(args.participantType);
    case 'mute': return api.mute();
    case 'unmute': return api.unmute();
    case 'hold': return api.hold(args.participantType);
    case 'resume': return api.resume(args.participantType);
    case 'pause-recording': return api.pauseRecording();
    case 'resume-recording': return api.resumeRecording();
    case 'merge': return api.merge();
    case 'swap': return api.swap();
    case 'add-participant': return api.addParticipant(args.contactType, args.contactValue, args.isBlindTransfer);
    case 'send-digits': return api.sendDigits(args.digits);
    default: throw new RequestError('unknown_action', `unknown action ${action}`);
  }
}
