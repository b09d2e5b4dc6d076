// voicetk's JavaScript client: the Salesforce Voice Toolkit API (telephony event listeners and
// call actions) over a voicetk gateway. One ES module for browsers and Node 20+, no
// dependencies; the gateway serves it bundled at /client/voicetk.js.
//
//   import { connect } from 'voicetk-client';          // or '/client/voicetk.js'
//   const api = await connect({ url, token, agent });
//   api.addTelephonyEventListener('CALL_STARTED', (payload) => ...);   // Aura style
//   api.addEventListener('callstarted', (event) => event.detail);       // LWC style
//   await api.hold('Initial_Caller');
//
// In a browser, importing it also defines <voice-toolkit-api url token agent>.

import { connect, VoicetkClient } from './client.js';
import { defineVoiceToolkitElement } from './element.js';
import { EVENT_TYPES, NATIVE_UNSUPPORTED, lwcName, telephonyType } from './events.js';
import { VoicetkError } from './http.js';
import { readAudioStats } from './audio.js';

defineVoiceToolkitElement();

export {
  connect,
  VoicetkClient,
  VoicetkError,
  EVENT_TYPES,
  NATIVE_UNSUPPORTED,
  lwcName,
  telephonyType,
  readAudioStats,
  defineVoiceToolkitElement,
};

export default {
  connect,
  VoicetkClient,
  VoicetkError,
  EVENT_TYPES,
  NATIVE_UNSUPPORTED,
  lwcName,
  telephonyType,
  readAudioStats,
  defineVoiceToolkitElement,
};
