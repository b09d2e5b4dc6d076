// The Voice Toolkit API over voicetk: one WebSocket subscription (`/v1/ws`) that resumes after
// the last seq it delivered, Aura- and LWC-style listeners, and the call actions over HTTP.
//
// Delivery rules (CONTRACT.md §5):
// - a payload reaches listeners at most once: live frames with a seq at or below the last one
//   delivered are dropped, and reconnects resume with `after` = that seq, so nothing is lost
//   or doubled across a reconnect;
// - replayed frames (`"replayed": true`, a new subscriber's view of calls in progress) come
//   ordered by call, not by seq, so they are delivered as they come, each seq once, and do not
//   move the resume point; the heartbeat that ends the replay does.

import { CallTracker } from './calls.js';
import { readAudioStats } from './audio.js';
import {
  assertSupported,
  lwcName,
  requireTelephonyType,
  telephonyType,
} from './events.js';
import { VoicetkError, baseUrl, request, wsUrl } from './http.js';

/** The client's own events, beside the 15 telephony types. */
const CLIENT_EVENTS = new Set(['connected', 'disconnected', 'closed', 'error']);

/** Delivered payloads kept to answer actions whose HTTP answer comes after the event. */
const RECENT_MAX = 512;

/** `participantType` values (CONTRACT.md §4). */
const PARTICIPANT_TYPES = ['Initial_Caller', 'Third_Party', 'Agent'];

const DEFAULTS = Object.freeze({
  baseMs: 500,
  maxMs: 30_000,
  connectTimeoutMs: 15_000,
  confirmTimeoutMs: 10_000,
  idleTimeoutMs: 45_000,
  requestTimeoutMs: 30_000,
});

/**
 * Connects to a voicetk server and resolves once the WebSocket is subscribed.
 * @param {import('../types/index.js').ConnectOptions} options
 * @returns {Promise<VoicetkClient>}
 */
export function connect(options) {
  return VoicetkClient.connect(options);
}

/**
 * A connection to voicetk: an `EventTarget` delivering the telephony events of one agent's
 * calls, with the Voice Toolkit's listener functions and call actions. Made by `connect()`.
 */
export class VoicetkClient extends EventTarget {
  // --- configuration ---
  /** Base URL, token and fetch for every HTTP request. */
  #http;
  /** The WebSocket constructor (browsers' global, or one passed in for Node 20). */
  #WebSocket;
  /** Whose calls this client follows; `null` follows every call the token may see. */
  #agent;
  /** Back-off bounds and timeouts. */
  #opts;
  /** `partner` or `native`, learned from the server before the first subscription. */
  #telephony = 'partner';

  // --- connection ---
  /** `connecting`, `connected`, `disconnected` (reconnecting) or `closed`. */
  #state = 'connecting';
  /** The live socket; `null` between connections. Frames from any other socket are ignored. */
  #ws = null;
  /** Whether the current socket's subscription is confirmed (a heartbeat came). */
  #subscribed = false;
  /** Reconnect attempts since the last confirmed subscription (drives the back-off). */
  #attempt = 0;
  /** Pending reconnect, idle watchdog and first-connect deadline timers. */
  #reconnectTimer = null;
  #watchdog = null;
  /** When the current socket last received a frame (ms since epoch). */
  #lastFrameAt = 0;
  /** Settles the promise `connect()` returned. */
  #first = null;

  // --- delivery ---
  /** The resume point: the last seq delivered or acknowledged by a heartbeat. */
  #lastSeq = 0;
  /** Whether `#lastSeq` may be used as `after` (false until the first replay ends). */
  #resumable = false;
  /** Seqs of replayed payloads already delivered, until the replay's heartbeat. */
  #replaySeen = new Set();
  /** seq → delivered payload, the most recent RECENT_MAX. */
  #recent = new Map();
  /** seq → callbacks of actions waiting for their confirming event. */
  #waiters = new Map();
  /** Aura type → the listener functions added with addTelephonyEventListener. */
  #aura = new Map();
  /** listener → (event name → the wrapper registered on the EventTarget). */
  #wrappers = new WeakMap();
  /** The agent's calls, for the current call. */
  #calls = new CallTracker();
  /** Stop functions of running publishAudioStats loops. */
  #publishers = new Set();
  /**
   * Payloads delivered before `connect()` resolved (the replay of calls in progress), held
   * until the task after it, so listeners added right after `await connect()` get them;
   * `null` once flushed.
   */
  #held = [];
  /** The Salesforce-style actions: the same as `forCall()`'s, on the current call. */
  #current = new CallActions(null, (method, action, body) => this.#act(method, action, body, null));

  /** Use `connect()`; the constructor only validates the options. */
  constructor(options = {}) {
    super();
    if (options === null || typeof options !== 'object') {
      throw new TypeError('options: expected an object {url, token, agent}');
    }
    const fetchFn = options.fetch ?? globalThis.fetch;
    if (typeof fetchFn !== 'function') {
      throw new TypeError('fetch: no global fetch; pass options.fetch');
    }
    const WS = options.WebSocket ?? globalThis.WebSocket;
    if (typeof WS !== 'function') {
      throw new TypeError(
        'WebSocket: no global WebSocket (Node 20 needs --experimental-websocket); pass options.WebSocket',
      );
    }
    if (options.token !== undefined && (typeof options.token !== 'string' || options.token === '')) {
      throw new TypeError('token: expected a non-empty string');
    }
    if (options.agent !== undefined && (typeof options.agent !== 'string' || options.agent.trim() === '')) {
      throw new TypeError('agent: expected a non-empty string');
    }
    if (options.after !== undefined && !(Number.isSafeInteger(options.after) && options.after >= 0)) {
      throw new TypeError(`after: expected a seq (an integer >= 0), found ${JSON.stringify(options.after)}`);
    }
    const reconnect = options.reconnect ?? {};
    const positive = (name, value, fallback) => {
      if (value === undefined) return fallback;
      if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
        throw new TypeError(`${name}: expected a positive number of milliseconds, found ${JSON.stringify(value)}`);
      }
      return value;
    };
    this.#opts = {
      baseMs: positive('reconnect.baseMs', reconnect.baseMs, DEFAULTS.baseMs),
      maxMs: positive('reconnect.maxMs', reconnect.maxMs, DEFAULTS.maxMs),
      connectTimeoutMs: positive('connectTimeoutMs', options.connectTimeoutMs, DEFAULTS.connectTimeoutMs),
      confirmTimeoutMs: positive('confirmTimeoutMs', options.confirmTimeoutMs, DEFAULTS.confirmTimeoutMs),
      idleTimeoutMs: positive('idleTimeoutMs', options.idleTimeoutMs, DEFAULTS.idleTimeoutMs),
      requestTimeoutMs: positive('requestTimeoutMs', options.requestTimeoutMs, DEFAULTS.requestTimeoutMs),
    };
    if (this.#opts.maxMs < this.#opts.baseMs) {
      throw new TypeError('reconnect.maxMs: must not be below reconnect.baseMs');
    }
    this.#http = {
      base: baseUrl(options.url),
      token: options.token,
      fetch: (...args) => fetchFn(...args),
    };
    this.#WebSocket = WS;
    this.#agent = options.agent ?? null;
    if (options.after !== undefined) {
      this.#lastSeq = options.after;
      this.#resumable = true;
    }
  }

  /**
   * Connects and resolves once subscribed; see `connect()`.
   * @param {import('../types/index.js').ConnectOptions} options
   */
  static async connect(options) {
    const client = new VoicetkClient(options);
    await client.#start();
    return client;
  }

  // ------------------------------------------------------------------ state

  /** `connecting`, `connected`, `disconnected` (reconnecting by itself) or `closed`. */
  get state() {
    return this.#state;
  }

  /** The last seq delivered (or acknowledged by the server): where a reconnect resumes. */
  get lastSeq() {
    return this.#lastSeq;
  }

  /** The server's telephony kind: `partner` (all 15 events) or `native`. */
  get telephony() {
    return this.#telephony;
  }

  /** The agent whose calls this client follows, or `null` for every call the token sees. */
  get agent() {
    return this.#agent;
  }

  /** The server's base URL. */
  get url() {
    return this.#http.base.href;
  }

  /** The agent's current call (the newest one not ended), or `null`. */
  get currentCall() {
    return this.#calls.current();
  }

  /** Same as the `currentCall` property. */
  getCurrentCall() {
    return this.#calls.current();
  }

  /** Every call of the agent that has not ended, oldest first. */
  get calls() {
    return this.#calls.all();
  }

  // -------------------------------------------------------------- listeners

  /**
   * Aura style: `fn(payload)` for every event of `type` (`CALL_STARTED` or `callstarted`).
   * Adding the same function twice for a type registers it once.
   * @throws {TypeError} unknown type or `fn` not a function
   * @throws {Error} the type does not exist in Native telephony (`code` = `unsupported_event`)
   */
  addTelephonyEventListener(type, fn) {
    const t = requireTelephonyType(type, 'addTelephonyEventListener: type');
    assertSupported(t, this.#telephony);
    if (typeof fn !== 'function') {
      throw new TypeError('addTelephonyEventListener: listener: expected a function');
    }
    let set = this.#aura.get(t);
    if (!set) this.#aura.set(t, (set = new Set()));
    set.add(fn);
  }

  /**
   * Removes a listener added with addTelephonyEventListener; a function that is not
   * registered is ignored.
   * @throws {TypeError} unknown type
   */
  removeTelephonyEventListener(type, fn) {
    const t = requireTelephonyType(type, 'removeTelephonyEventListener: type');
    this.#aura.get(t)?.delete(fn);
  }

  /**
   * LWC style (EventTarget): `addEventListener('callstarted', (event) => event.detail)`.
   * Telephony events are `CustomEvent`s named with the LWC name, `detail` = the payload's
   * `detail`, `payload` = the whole payload (seq, timestamp, agent, ...). Aura names are
   * accepted too. Also: `connected`, `disconnected`, `closed`, `error`.
   * @throws {TypeError} unknown event name
   * @throws {Error} the type does not exist in Native telephony
   */
  addEventListener(type, listener, options) {
    const name = this.#eventName(type, 'addEventListener', true);
    if (listener === null || listener === undefined) return;
    if (typeof listener !== 'function' && typeof listener?.handleEvent !== 'function') {
      throw new TypeError('addEventListener: listener: expected a function or an object with handleEvent');
    }
    super.addEventListener(name, this.#wrap(name, listener), options);
  }

  /** Removes a listener added with addEventListener; unknown listeners are ignored. */
  removeEventListener(type, listener, options) {
    const name = this.#eventName(type, 'removeEventListener', false);
    const wrapper = listener ? this.#wrappers.get(listener)?.get(name) : undefined;
    if (wrapper) super.removeEventListener(name, wrapper, options);
  }

  /** The EventTarget name of `type`: LWC name for telephony types, or a client event. */
  #eventName(type, method, adding) {
    const t = telephonyType(type);
    if (t !== null) {
      if (adding) assertSupported(t, this.#telephony);
      return lwcName(t);
    }
    if (CLIENT_EVENTS.has(type)) return type;
    // Throws the catalogue's message, naming the client's own events too.
    try {
      requireTelephonyType(type, `${method}: type`);
    } catch (e) {
      throw new TypeError(`${e.message}; or one of the client's events: ${[...CLIENT_EVENTS].join(', ')}`);
    }
    return type;
  }

  /** One wrapper per (listener, event name), so EventTarget's own de-duplication holds. */
  #wrap(name, listener) {
    let byName = this.#wrappers.get(listener);
    if (!byName) this.#wrappers.set(listener, (byName = new Map()));
    let wrapper = byName.get(name);
    if (!wrapper) {
      wrapper = (event) => {
        try {
          if (typeof listener === 'function') listener.call(this, event);
          else listener.handleEvent(event);
        } catch (error) {
          if (name === 'error') console.error('voicetk: an error listener threw', error);
          else this.#report(error, 'listener', name);
        }
      };
      byName.set(name, wrapper);
    }
    return wrapper;
  }

  /**
   * Tells `error` listeners (a cancelable CustomEvent, `detail` = {error, source, type?});
   * logs with console.error unless one of them called preventDefault().
   */
  #report(error, source, type) {
    const event = new CustomEvent('error', { cancelable: true, detail: { error, source, type } });
    if (super.dispatchEvent(event)) {
      const what = source === 'listener' ? `a ${type} listener threw` : `${source} failed`;
      console.error(`voicetk: ${what}:`, error);
    }
  }

  // ---------------------------------------------------------------- actions

  /**
   * The call actions on one given call, whichever call is current: an object with the same
   * methods as the client (mute ... sendDigits) and the same confirmation semantics, acting on
   * `callId`. For a page that shows many calls (a supervisor's console); the Salesforce
   * methods on the client itself keep acting on the current call. The call need not be one
   * this client follows: the server decides (404 `unknown_call` for a call it does not know
   * or the token may not see).
   * @param {string} callId
   * @returns {CallActions}
   * @throws {TypeError} `callId` is not a non-empty string
   */
  forCall(callId) {
    if (typeof callId !== 'string' || callId.trim() === '') {
      throw new TypeError(`forCall: callId: expected a non-empty string, found ${JSON.stringify(callId)}`);
    }
    return new CallActions(callId, (method, action, body) => this.#act(method, action, body, callId));
  }

  /** MUTE the agent on the current call. Resolves with the MUTE payload. */
  async mute() {
    return this.#current.mute();
  }

  /** UNMUTE the agent. */
  async unmute() {
    return this.#current.unmute();
  }

  /** HOLD a participant: `Initial_Caller` or `Third_Party`. */
  async hold(participantType) {
    return this.#current.hold(participantType);
  }

  /** RESUME a participant on hold. */
  async resume(participantType) {
    return this.#current.resume(participantType);
  }

  /** Answers the ringing current call (CALL_CONNECTED). */
  async acceptCall() {
    return this.#current.acceptCall();
  }

  /** Declines the ringing current call (CALL_ENDED). */
  async declineCall() {
    return this.#current.declineCall();
  }

  /**
   * Ends the current call (CALL_ENDED), or with `Third_Party` drops the third party
   * (PARTICIPANT_REMOVED).
   */
  async endCall(participantType) {
    return this.#current.endCall(participantType);
  }

  /** PAUSE_RECORDING. */
  async pauseRecording() {
    return this.#current.pauseRecording();
  }

  /** RESUME_RECORDING. */
  async resumeRecording() {
    return this.#current.resumeRecording();
  }

  /** Takes everyone off hold (CONFERENCE). */
  async merge() {
    return this.#current.merge();
  }

  /** Swaps which of the two participants is on hold (SWAP). */
  async swap() {
    return this.#current.swap();
  }

  /** Adds a participant (PARTICIPANT_ADDED); `isBlindTransfer` hands the call over. */
  async addParticipant(contactType, contactValue, isBlindTransfer) {
    return this.#current.addParticipant(contactType, contactValue, isBlindTransfer);
  }

  /** Sends DTMF digits (0-9, *, #, ","); resolves with `{seq: null}`: no event reports DTMF. */
  async sendDigits(digits) {
    return this.#current.sendDigits(digits);
  }

  /**
   * Places an outbound call (`POST /v1/calls`); resolves with its first event (CALL_STARTED,
   * or CALL_CONNECTED in Native telephony), and the new call becomes the current call.
   */
  async startPreviewCall(phoneNumber) {
    this.#assertOpen('startPreviewCall');
    const ack = await request(this.#http, 'POST', 'v1/calls', { phoneNumber }, {
      timeoutMs: this.#opts.requestTimeoutMs,
    });
    return this.#confirmation(ack);
  }

  /**
   * Posts `action` for `callId` (`null`: the current call) and resolves with the payload of
   * the event that confirms it.
   */
  async #act(method, action, body, callId) {
    this.#assertOpen(method);
    let id = callId;
    if (id === null) {
      const call = this.#calls.current();
      if (call === null) {
        throw new VoicetkError(
          'no_current_call',
          `${method}: no current call${this.#agent ? ` for agent ${JSON.stringify(this.#agent)}` : ''} ` +
            '(every call this client has seen has ended, or none started since it connected)',
        );
      }
      id = call.callId;
    }
    const path = `v1/calls/${encodeURIComponent(id)}/actions/${action}`;
    const ack = await request(this.#http, 'POST', path, body, { timeoutMs: this.#opts.requestTimeoutMs });
    return this.#confirmation(ack);
  }

  #assertOpen(method) {
    if (this.#state === 'closed') {
      throw new VoicetkError('closed', `${method}: the client is closed`);
    }
  }

  /**
   * The payload of the event an action's answer names (`{"seq": N}`): already delivered,
   * or delivered within confirmTimeoutMs, or else read from the history.
   */
  async #confirmation(ack) {
    const seq = ack?.seq;
    if (seq === null) return Object.freeze({ seq: null });
    if (!Number.isSafeInteger(seq)) {
      throw new VoicetkError('bad_response', `expected {"seq": N} from voicetk, found ${JSON.stringify(ack)}`);
    }
    const seen = this.#recent.get(seq);
    if (seen) return seen;
    if (seq > this.#lastSeq && this.#state !== 'closed') {
      const delivered = await new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          this.#removeWaiter(seq, waiter);
          resolve(null);
        }, this.#opts.confirmTimeoutMs);
        const waiter = {
          resolve: (p) => {
            clearTimeout(timer);
            resolve(p);
          },
          reject: (e) => {
            clearTimeout(timer);
            reject(e);
          },
        };
        let list = this.#waiters.get(seq);
        if (!list) this.#waiters.set(seq, (list = []));
        list.push(waiter);
      });
      if (delivered) return delivered;
    }
    // Delivered long ago, filtered out (another agent), or the socket is down: the log has it.
    const page = await request(this.#http, 'GET', `v1/events?after=${seq - 1}&limit=1`, undefined, {
      timeoutMs: this.#opts.requestTimeoutMs,
    });
    const found = page?.events?.[0];
    return found && found.seq === seq ? deepFreeze(found) : Object.freeze({ seq });
  }

  #removeWaiter(seq, waiter) {
    const list = this.#waiters.get(seq);
    if (!list) return;
    const i = list.indexOf(waiter);
    if (i >= 0) list.splice(i, 1);
    if (list.length === 0) this.#waiters.delete(seq);
  }

  // ----------------------------------------------------------- audio stats

  /**
   * Samples `peerConnection.getStats()` every `intervalMs` (default 5000) and posts the audio
   * counters to `POST /v1/calls/{callId}/audio-samples`, from which voicetk makes AUDIO_STATS.
   * `callId` defaults to the current call at each sample (no call: nothing is sent).
   * Failures are reported as `error` events. Returns a function that stops it; it also stops
   * when the peer connection closes or the client is closed.
   */
  publishAudioStats(peerConnection, options = {}) {
    if (!peerConnection || typeof peerConnection.getStats !== 'function') {
      throw new TypeError('publishAudioStats: peerConnection: expected an RTCPeerConnection');
    }
    const { callId, intervalMs = 5000 } = options ?? {};
    if (callId !== undefined && (typeof callId !== 'string' || callId === '')) {
      throw new TypeError('publishAudioStats: callId: expected a non-empty string');
    }
    if (typeof intervalMs !== 'number' || !Number.isFinite(intervalMs) || intervalMs <= 0) {
      throw new TypeError(`publishAudioStats: intervalMs: expected a positive number, found ${JSON.stringify(intervalMs)}`);
    }
    this.#assertOpen('publishAudioStats');
    let stopped = false;
    let busy = false;
    const stop = () => {
      stopped = true;
      clearInterval(timer);
      this.#publishers.delete(stop);
    };
    const sample = async () => {
      if (stopped || busy) return;
      if (peerConnection.connectionState === 'closed') {
        stop();
        return;
      }
      const id = callId ?? this.#calls.current()?.callId;
      if (!id) return;
      busy = true;
      try {
        const body = readAudioStats(await peerConnection.getStats());
        if (body && !stopped) {
          await request(this.#http, 'POST', `v1/calls/${encodeURIComponent(id)}/audio-samples`, body, {
            timeoutMs: this.#opts.requestTimeoutMs,
          });
        }
      } catch (error) {
        if (!stopped) this.#report(error, 'publishAudioStats');
      } finally {
        busy = false;
      }
    };
    const timer = setInterval(sample, intervalMs);
    this.#publishers.add(stop);
    return stop;
  }

  // ------------------------------------------------------------- lifecycle

  /**
   * Closes the connection for good: no more events, no reconnect; pending actions reject
   * with code `closed`. Resolves once the socket is closed (at most ~2 s).
   */
  close() {
    if (this.#state === 'closed') return Promise.resolve();
    this.#state = 'closed';
    clearTimeout(this.#reconnectTimer);
    this.#stopWatchdog();
    for (const stop of [...this.#publishers]) stop();
    const closed = new VoicetkError('closed', 'the client was closed');
    for (const list of this.#waiters.values()) for (const w of list) w.reject(closed);
    this.#waiters.clear();
    this.#first?.reject(closed);
    const ws = this.#ws;
    this.#ws = null;
    this.#subscribed = false;
    super.dispatchEvent(new CustomEvent('closed', { detail: { lastSeq: this.#lastSeq } }));
    if (!ws || ws.readyState === 3) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, 2000);
      ws.addEventListener('close', () => {
        clearTimeout(timer);
        resolve();
      });
      try {
        ws.close(1000, 'client closed');
      } catch {
        clearTimeout(timer);
        resolve();
      }
    });
  }

  /** Learns the server's telephony, checks the token, then opens the socket. */
  async #start() {
    const deadline = setTimeout(() => {
      this.#first?.reject(
        new VoicetkError('timeout', `no subscription to ${this.#http.base.origin} within ${this.#opts.connectTimeoutMs} ms`),
      );
    }, this.#opts.connectTimeoutMs);
    try {
      const subscribed = new Promise((resolve, reject) => {
        this.#first = { resolve, reject };
      });
      const timeoutMs = this.#opts.connectTimeoutMs;
      const checks = (async () => {
        const health = await request(this.#http, 'GET', 'healthz', undefined, { timeoutMs });
        const told = health?.telephony === 'native' || health?.telephony === 'partner' ? health.telephony : null;
        // A server that reports its telephony is only asked for an event type both kinds
        // have (no 422 for a browser to log); one that does not is asked for CALL_STARTED,
        // which Native telephony refuses.
        const probed = await this.#probe(health?.lastSeq, told === null ? 'CALL_STARTED' : 'CALL_CONNECTED', timeoutMs);
        this.#telephony = told ?? probed;
      })();
      checks.catch(() => {}); // raced below; a late failure after the deadline is moot
      await Promise.race([checks, subscribed]);
      this.#open();
      await subscribed;
      // Listeners are added once connect() has returned the client: hand them what came
      // before (the replay) one task later, after the caller's continuation has run.
      setTimeout(() => this.#flushHeld(), 0);
    } catch (e) {
      this.#first = null;
      await this.close();
      throw e;
    } finally {
      clearTimeout(deadline);
      this.#first = null;
    }
  }

  /**
   * One cheap authenticated request (`GET /v1/events`, reads at most one event): fails with
   * the server's 401/403 when the token is wrong. Asking for CALL_STARTED also tells the
   * telephony (Native telephony refuses it: 422 unsupported_event), for servers whose
   * /healthz does not say; CALL_CONNECTED exists in both.
   */
  async #probe(after, type, timeoutMs) {
    const from = Number.isSafeInteger(after) && after >= 0 ? after : 0;
    try {
      await request(this.#http, 'GET', `v1/events?after=${from}&limit=1&types=${type}`, undefined, { timeoutMs });
      return 'partner';
    } catch (e) {
      if (e instanceof VoicetkError && e.code === 'unsupported_event') return 'native';
      throw e;
    }
  }

  /** Opens a socket and subscribes: with `after` once there is a resume point. */
  #open() {
    if (this.#state === 'closed') return;
    let ws;
    try {
      ws = new this.#WebSocket(wsUrl(this.#http.base, this.#http.token));
    } catch (e) {
      this.#report(e, 'connection');
      this.#scheduleReconnect();
      return;
    }
    this.#ws = ws;
    this.#subscribed = false;
    ws.addEventListener('open', () => {
      if (ws !== this.#ws) return;
      const op = { op: 'subscribe' };
      if (this.#resumable) op.after = this.#lastSeq;
      this.#send(ws, op);
      // After a resume the server sends nothing until an event: a ping's heartbeat confirms.
      this.#send(ws, { op: 'ping' });
      this.#startWatchdog(ws);
    });
    ws.addEventListener('message', (m) => this.#onFrame(ws, m.data));
    ws.addEventListener('close', (e) => this.#onClose(ws, e.code, e.reason));
    // An error is always followed by close, which reconnects.
    ws.addEventListener('error', () => {});
  }

  #send(ws, op) {
    try {
      ws.send(JSON.stringify(op));
    } catch {
      // Closing: the close handler reconnects.
    }
  }

  #onFrame(ws, data) {
    if (ws !== this.#ws || typeof data !== 'string') return;
    this.#lastFrameAt = Date.now();
    let msg;
    try {
      msg = JSON.parse(data);
    } catch (e) {
      this.#report(new VoicetkError('bad_response', `a WebSocket frame is not JSON: ${data.slice(0, 200)}`, { cause: e }), 'connection');
      return;
    }
    if (msg?.op === 'heartbeat') {
      // The server is caught up to this seq for this subscriber: resume after it
      // (docs/decisions.md). The subscribe op is the socket's first frame, so a heartbeat
      // reaches us only after the server took it: its periodic ones start a whole
      // `limits.heartbeat` after the connection opens.
      if (Number.isSafeInteger(msg.seq) && msg.seq > this.#lastSeq) this.#lastSeq = msg.seq;
      this.#resumable = true;
      this.#replaySeen.clear();
      if (!this.#subscribed) this.#onSubscribed();
      return;
    }
    if (msg?.op === 'error') {
      this.#onServerError(ws, msg.error ?? {});
      return;
    }
    if (msg && typeof msg.type === 'string' && Number.isSafeInteger(msg.seq)) {
      this.#onEvent(msg);
    }
  }

  #onSubscribed() {
    this.#subscribed = true;
    this.#attempt = 0;
    this.#state = 'connected';
    super.dispatchEvent(new CustomEvent('connected', { detail: { lastSeq: this.#lastSeq } }));
    this.#first?.resolve();
  }

  #onServerError(ws, body) {
    const err = new VoicetkError(body.code ?? 'server_error', body.message ?? 'voicetk refused the subscription', {
      path: body.path,
    });
    if (err.code === 'history_pruned' && this.#first === null) {
      // The log no longer holds what was missed: say so, and start over on a new socket
      // with a replay of the calls in progress (this one would still answer the ping sent
      // with the refused subscription, with a seq that is no resume point).
      this.#report(err, 'connection');
      this.#resumable = false;
      this.#ws = null;
      this.#stopWatchdog();
      try {
        ws.close(1000, 'resubscribing');
      } catch {
        // Already closing.
      }
      this.#open();
      return;
    }
    if (this.#first) {
      this.#first.reject(err);
      return;
    }
    this.#report(err, 'connection');
  }

  #onEvent(payload) {
    const seq = payload.seq;
    if (payload.replayed === true) {
      if (seq <= this.#lastSeq || this.#replaySeen.has(seq)) return;
      this.#replaySeen.add(seq);
    } else {
      if (seq <= this.#lastSeq) return; // already delivered
      this.#lastSeq = seq;
      this.#resumable = true;
    }
    deepFreeze(payload);
    this.#recent.set(seq, payload);
    if (this.#recent.size > RECENT_MAX) this.#recent.delete(this.#recent.keys().next().value);
    if (this.#agent === null || payload.agent === this.#agent) {
      this.#calls.apply(payload);
      if (this.#held !== null) this.#held.push(payload);
      else this.#dispatch(payload);
    }
    const waiting = this.#waiters.get(seq);
    if (waiting) {
      this.#waiters.delete(seq);
      for (const w of waiting) w.resolve(payload);
    }
  }

  #flushHeld() {
    const held = this.#held ?? [];
    this.#held = null;
    for (const payload of held) {
      if (this.#state === 'closed') return;
      this.#dispatch(payload);
    }
  }

  #dispatch(payload) {
    const fns = this.#aura.get(payload.type);
    if (fns) {
      for (const fn of [...fns]) {
        try {
          fn(payload);
        } catch (error) {
          this.#report(error, 'listener', payload.type);
        }
      }
    }
    if (telephonyType(payload.type) === null) return;
    const event = new CustomEvent(lwcName(payload.type), { detail: payload.detail });
    Object.defineProperty(event, 'payload', { value: payload, enumerable: true });
    super.dispatchEvent(event);
  }

  #onClose(ws, code, reason) {
    if (ws !== this.#ws) return;
    this.#ws = null;
    this.#stopWatchdog();
    const wasSubscribed = this.#subscribed;
    this.#subscribed = false;
    if (this.#state === 'closed') return;
    if (wasSubscribed) {
      this.#state = 'disconnected';
      super.dispatchEvent(
        new CustomEvent('disconnected', { detail: { code, reason, lastSeq: this.#lastSeq } }),
      );
    }
    this.#scheduleReconnect();
  }

  /** Exponential back-off with jitter: a random wait in [d/2, d], d = min(max, base·2^n). */
  #scheduleReconnect() {
    if (this.#state === 'closed') return;
    const d = Math.min(this.#opts.maxMs, this.#opts.baseMs * 2 ** Math.min(this.#attempt, 30));
    this.#attempt += 1;
    const wait = d / 2 + Math.random() * (d / 2);
    clearTimeout(this.#reconnectTimer);
    this.#reconnectTimer = setTimeout(() => this.#reconnect(), wait);
  }

  async #reconnect() {
    if (this.#state === 'closed') return;
    try {
      // Cheap and authenticated: no socket is opened while the server is down, and a token
      // revoked meanwhile stops the retries instead of retrying forever.
      await this.#probe(this.#lastSeq, 'CALL_CONNECTED', this.#opts.requestTimeoutMs);
    } catch (e) {
      if (this.#state === 'closed') return;
      if (e instanceof VoicetkError && (e.status === 401 || e.status === 403)) {
        this.#report(e, 'connection');
        if (this.#first) this.#first.reject(e);
        else await this.close();
        return;
      }
      this.#scheduleReconnect();
      return;
    }
    this.#open();
  }

  /** Pings when the socket is quiet; drops it when nothing at all came for idleTimeoutMs. */
  #startWatchdog(ws) {
    this.#stopWatchdog();
    this.#lastFrameAt = Date.now();
    const every = this.#opts.idleTimeoutMs / 3;
    this.#watchdog = setInterval(() => {
      if (ws !== this.#ws) return;
      const quiet = Date.now() - this.#lastFrameAt;
      if (quiet >= this.#opts.idleTimeoutMs) {
        try {
          ws.close(4000, 'no frame from the server in time');
        } catch {
          // Already closing.
        }
        this.#onClose(ws, 4000, 'idle');
      } else if (quiet >= every) {
        this.#send(ws, { op: 'ping' });
      }
    }, every);
  }

  #stopWatchdog() {
    clearInterval(this.#watchdog);
    this.#watchdog = null;
  }
}

/**
 * The call actions of the Voice Toolkit API, bound to one call (`api.forCall(callId)`) or to
 * the client's current call (the client's own methods). Each posts
 * `POST /v1/calls/{callId}/actions/{action}` and resolves with the payload of the event that
 * confirms it, once the client's listeners have had it; refusals reject with a VoicetkError
 * carrying the server's code, status and message.
 */
export class CallActions {
  /** `(method, action, body) => Promise`: the client's request-and-confirm. */
  #act;
  /** The call, or `null` for the client's current call. */
  #callId;

  /** Made by `VoicetkClient.forCall()`. */
  constructor(callId, act) {
    this.#callId = callId;
    this.#act = act;
    Object.freeze(this);
  }

  /** The call these actions act on (`null`: the client's current call at each action). */
  get callId() {
    return this.#callId;
  }

  /** MUTE the agent (MUTE). */
  async mute() {
    return this.#act('mute', 'mute', {});
  }

  /** UNMUTE the agent (UNMUTE). */
  async unmute() {
    return this.#act('unmute', 'unmute', {});
  }

  /** HOLD a participant: `Initial_Caller` or `Third_Party` (HOLD). */
  async hold(participantType) {
    return this.#act('hold', 'hold', participantBody('hold', participantType, true));
  }

  /** RESUME a participant on hold (RESUME). */
  async resume(participantType) {
    return this.#act('resume', 'resume', participantBody('resume', participantType, true));
  }

  /** Answers the ringing call (CALL_CONNECTED). */
  async acceptCall() {
    return this.#act('acceptCall', 'accept-call', {});
  }

  /** Declines the ringing call (CALL_ENDED). */
  async declineCall() {
    return this.#act('declineCall', 'decline-call', {});
  }

  /** Ends the call (CALL_ENDED), or with `Third_Party` drops the third party (PARTICIPANT_REMOVED). */
  async endCall(participantType) {
    return this.#act('endCall', 'end-call', participantBody('endCall', participantType, false));
  }

  /** PAUSE_RECORDING. */
  async pauseRecording() {
    return this.#act('pauseRecording', 'pause-recording', {});
  }

  /** RESUME_RECORDING. */
  async resumeRecording() {
    return this.#act('resumeRecording', 'resume-recording', {});
  }

  /** Takes everyone off hold (CONFERENCE). */
  async merge() {
    return this.#act('merge', 'merge', {});
  }

  /** Swaps which of the two participants is on hold (SWAP). */
  async swap() {
    return this.#act('swap', 'swap', {});
  }

  /** Adds a participant (PARTICIPANT_ADDED); `isBlindTransfer` hands the call over. */
  async addParticipant(contactType, contactValue, isBlindTransfer) {
    return this.#act('addParticipant', 'add-participant', { contactType, contactValue, isBlindTransfer });
  }

  /** Sends DTMF digits (0-9, *, #, ","); resolves with `{seq: null}`: no event reports DTMF. */
  async sendDigits(digits) {
    return this.#act('sendDigits', 'send-digits', { digits });
  }
}

/** The body of an action taking a participantType, checking the value's spelling. */
function participantBody(method, participantType, required) {
  if (participantType === undefined || participantType === null) {
    if (required) {
      throw new VoicetkError(
        'missing_field',
        `${method}: participantType: required (${PARTICIPANT_TYPES.join(', ')})`,
        { path: 'participantType' },
      );
    }
    return {};
  }
  if (!PARTICIPANT_TYPES.includes(participantType)) {
    throw new VoicetkError(
      'invalid_value',
      `${method}: participantType: expected one of ${PARTICIPANT_TYPES.join(', ')}, found ${JSON.stringify(participantType)}`,
      { path: 'participantType' },
    );
  }
  return { participantType };
}

function deepFreeze(value) {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}
