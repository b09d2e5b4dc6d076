// `<voice-toolkit-api url token agent>`: the client as a custom element, so a Salesforce
// component's code ports by changing one line: the element it looks up.
//
//   const toolkitApi = this.template.querySelector('lightning-service-cloud-voice-toolkit-api');
// becomes
//   const toolkitApi = document.querySelector('voice-toolkit-api');
//
// The element connects while it is in the document (and reconnects when url, token or agent
// change), re-dispatches every telephony event on itself as a CustomEvent with the LWC name,
// and has the client's listener functions and actions.

import { VoicetkClient } from './client.js';
import { assertSupported, lwcName, requireTelephonyType, telephonyType, EVENT_TYPES } from './events.js';
import { VoicetkError } from './http.js';

/** The actions on a call: the client's methods and those of `forCall(callId)`. */
const CALL_ACTIONS = [
  'mute',
  'unmute',
  'hold',
  'resume',
  'acceptCall',
  'declineCall',
  'endCall',
  'pauseRecording',
  'resumeRecording',
  'merge',
  'swap',
  'addParticipant',
  'sendDigits',
];

/** The element's methods that wait for the connection, then call the client's. */
const ACTIONS = [...CALL_ACTIONS, 'startPreviewCall'];

/** The client's events the element re-dispatches on itself. */
const FORWARDED = ['connected', 'disconnected', 'error'];

/**
 * Defines `<voice-toolkit-api>` (or `name`) when the environment has custom elements, and
 * returns its class; `null` elsewhere (Node). Importing the package calls it once.
 * @param {string} [name]
 */
export function defineVoiceToolkitElement(name = 'voice-toolkit-api') {
  const registry = globalThis.customElements;
  if (!registry || typeof globalThis.HTMLElement !== 'function') return null;
  const existing = registry.get(name);
  if (existing) return existing;
  const cls = makeElementClass(globalThis.HTMLElement);
  registry.define(name, cls);
  return cls;
}

function makeElementClass(Base) {
  class VoiceToolkitApiElement extends Base {
    static get observedAttributes() {
      return ['url', 'token', 'agent'];
    }

    /** The connected client, or `null` while connecting. */
    #api = null;
    /** Settles `ready` for the current connection attempt. */
    #deferred = deferred();
    /** Bumped on every (re)start; a stale attempt's result is dropped. */
    #generation = 0;
    /** Aura listeners, kept here so they move to a new client after a restart. */
    #aura = new Map();
    /** Telephony event names listened to on the element before the telephony was known. */
    #early = new Set();
    /** Retry timer of a failed first connection. */
    #retry = null;

    /** Resolves with the connected client (see `connect()`); waits while disconnected. */
    get ready() {
      return this.#deferred.promise;
    }

    /** The connected client, or `null`. */
    get api() {
      return this.#api;
    }

    /** The client's state; `connecting` until connected. */
    get state() {
      return this.#api?.state ?? 'connecting';
    }

    /** The last seq delivered; 0 before the connection. */
    get lastSeq() {
      return this.#api?.lastSeq ?? 0;
    }

    /** The server's telephony kind, once connected. */
    get telephony() {
      return this.#api?.telephony ?? null;
    }

    /** The agent's current call, or `null`. */
    get currentCall() {
      return this.#api?.currentCall ?? null;
    }

    /** Same as `currentCall`. */
    getCurrentCall() {
      return this.currentCall;
    }

    /**
     * The call actions on `callId` (see the client's `forCall`); each waits for the
     * connection, then acts through the connected client.
     * @throws {TypeError} `callId` is not a non-empty string
     */
    forCall(callId) {
      if (typeof callId !== 'string' || callId.trim() === '') {
        throw new TypeError(`forCall: callId: expected a non-empty string, found ${JSON.stringify(callId)}`);
      }
      const actions = { callId };
      for (const method of CALL_ACTIONS) {
        actions[method] = async (...args) => (await this.ready).forCall(callId)[method](...args);
      }
      return Object.freeze(actions);
    }

    connectedCallback() {
      this.#start();
    }

    disconnectedCallback() {
      this.#stop();
    }

    attributeChangedCallback(_name, before, after) {
      if (before !== after && this.isConnected) {
        this.#stop();
        this.#start();
      }
    }

    /** Aura style, as on the client; kept across reconnects and attribute changes. */
    addTelephonyEventListener(type, fn) {
      const t = requireTelephonyType(type, 'addTelephonyEventListener: type');
      if (typeof fn !== 'function') {
        throw new TypeError('addTelephonyEventListener: listener: expected a function');
      }
      if (this.#api) this.#api.addTelephonyEventListener(t, fn);
      let set = this.#aura.get(t);
      if (!set) this.#aura.set(t, (set = new Set()));
      set.add(fn);
    }

    /** Removes an Aura-style listener; one not registered is ignored. */
    removeTelephonyEventListener(type, fn) {
      const t = requireTelephonyType(type, 'removeTelephonyEventListener: type');
      this.#aura.get(t)?.delete(fn);
      this.#api?.removeTelephonyEventListener(t, fn);
    }

    /**
     * LWC style: telephony events arrive on the element as CustomEvents named with the LWC
     * name (`detail` = the payload's detail, `payload` = the whole payload); Aura names are
     * accepted. Other names (click, ...) behave as on any element.
     */
    addEventListener(type, listener, options) {
      const t = telephonyType(type);
      if (t !== null) {
        if (this.#api) assertSupported(t, this.#api.telephony);
        else this.#early.add(t);
        super.addEventListener(lwcName(t), listener, options);
        return;
      }
      super.addEventListener(type, listener, options);
    }

    /** Removes a listener added with addEventListener, under either naming. */
    removeEventListener(type, listener, options) {
      const t = telephonyType(type);
      super.removeEventListener(t !== null ? lwcName(t) : type, listener, options);
    }

    /** As the client's publishAudioStats, starting once connected. Returns a stop function. */
    publishAudioStats(peerConnection, options) {
      if (!peerConnection || typeof peerConnection.getStats !== 'function') {
        throw new TypeError('publishAudioStats: peerConnection: expected an RTCPeerConnection');
      }
      let stop = null;
      let cancelled = false;
      this.ready.then((api) => {
        if (!cancelled) stop = api.publishAudioStats(peerConnection, options);
      });
      return () => {
        cancelled = true;
        stop?.();
      };
    }

    #start() {
      const generation = ++this.#generation;
      clearTimeout(this.#retry);
      const attempt = (n) => {
        const options = {
          url: this.getAttribute('url') || undefined,
          token: this.getAttribute('token') || undefined,
          agent: this.getAttribute('agent') || undefined,
        };
        VoicetkClient.connect(options).then(
          (api) => {
            if (generation !== this.#generation) {
              api.close();
              return;
            }
            this.#adopt(api);
          },
          (error) => {
            if (generation !== this.#generation) return;
            this.#emitError(error);
            const fatal =
              error instanceof TypeError ||
              (error instanceof VoicetkError && (error.status === 401 || error.status === 403));
            if (fatal) {
              this.#deferred.reject(error);
              return;
            }
            // The server may be starting: try again with the client's back-off bounds.
            const d = Math.min(30_000, 500 * 2 ** Math.min(n, 6));
            this.#retry = setTimeout(() => attempt(n + 1), d / 2 + Math.random() * (d / 2));
          },
        );
      };
      attempt(0);
    }

    #adopt(api) {
      this.#api = api;
      for (const [t, fns] of this.#aura) {
        for (const fn of fns) {
          try {
            api.addTelephonyEventListener(t, fn);
          } catch (error) {
            fns.delete(fn);
            this.#emitError(error);
          }
        }
      }
      for (const t of this.#early) {
        try {
          assertSupported(t, api.telephony);
        } catch (error) {
          this.#emitError(error);
        }
      }
      this.#early.clear();
      for (const t of EVENT_TYPES) {
        try {
          assertSupported(t, api.telephony);
        } catch {
          continue;
        }
        api.addTelephonyEventListener(t, (payload) => {
          const event = new CustomEvent(lwcName(payload.type), { detail: payload.detail });
          Object.defineProperty(event, 'payload', { value: payload, enumerable: true });
          this.dispatchEvent(event);
        });
      }
      for (const name of FORWARDED) {
        api.addEventListener(name, (e) => {
          if (name !== 'error') {
            this.dispatchEvent(new CustomEvent(name, { detail: e.detail }));
            return;
          }
          // Re-dispatched on the element, which logs it unless a listener there cancels it.
          e.preventDefault();
          const again = new CustomEvent('error', { cancelable: true, detail: e.detail });
          if (this.dispatchEvent(again)) console.error('voicetk:', e.detail?.error);
        });
      }
      this.#deferred.resolve(api);
      this.dispatchEvent(new CustomEvent('connected', { detail: { lastSeq: api.lastSeq } }));
    }

    #stop() {
      this.#generation += 1;
      clearTimeout(this.#retry);
      const api = this.#api;
      this.#api = null;
      if (api) api.close();
      if (this.#deferred.settled) this.#deferred = deferred();
    }

    #emitError(error) {
      const event = new CustomEvent('error', { cancelable: true, detail: { error, source: 'connection' } });
      if (this.dispatchEvent(event)) console.error('voicetk:', error);
    }
  }

  for (const method of ACTIONS) {
    Object.defineProperty(VoiceToolkitApiElement.prototype, method, {
      value: async function (...args) {
        const api = await this.ready;
        return api[method](...args);
      },
      writable: true,
      configurable: true,
    });
  }
  return VoiceToolkitApiElement;
}

function deferred() {
  const d = { settled: false };
  d.promise = new Promise((resolve, reject) => {
    d.resolve = (v) => {
      d.settled = true;
      resolve(v);
    };
    d.reject = (e) => {
      d.settled = true;
      reject(e);
    };
  });
  // A page that never awaits `ready` must not see an unhandled rejection.
  d.promise.catch(() => {});
  return d;
}
