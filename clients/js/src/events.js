// The telephony event catalogue (spec/telephony-events.txt): the 15 types, their LWC names,
// and which ones Salesforce Voice Native Telephony lacks.

/** The 15 event types, Aura names, in catalogue order. */
export const EVENT_TYPES = Object.freeze([
  'AUDIO_STATS',
  'CALL_STARTED',
  'CALL_CONNECTED',
  'CALL_ENDED',
  'HOLD',
  'RESUME',
  'MUTE',
  'UNMUTE',
  'PARTICIPANT_ADDED',
  'PARTICIPANT_REMOVED',
  'CONFERENCE',
  'SWAP',
  'PAUSE_RECORDING',
  'RESUME_RECORDING',
  'WRAP_UP_ENDED',
]);

/** The types that do not exist in Native telephony (CONTRACT.md §1). */
export const NATIVE_UNSUPPORTED = Object.freeze([
  'AUDIO_STATS',
  'CALL_STARTED',
  'SWAP',
  'WRAP_UP_ENDED',
]);

/** The LWC name of an Aura type: lower case, no underscores (`CALL_STARTED` → `callstarted`). */
export function lwcName(type) {
  return type.toLowerCase().replaceAll('_', '');
}

const BY_LWC = new Map(EVENT_TYPES.map((t) => [lwcName(t), t]));
const AURA = new Set(EVENT_TYPES);

/**
 * The Aura name of `name` when it is one of the 15 types under either naming
 * (`CALL_STARTED` or `callstarted`), else `null`.
 */
export function telephonyType(name) {
  if (typeof name !== 'string') return null;
  if (AURA.has(name)) return name;
  return BY_LWC.get(name) ?? null;
}

/**
 * The Aura name of `name`, or a `TypeError` naming the valid names.
 * @param {string} name
 * @param {string} what the parameter, for the message
 */
export function requireTelephonyType(name, what = 'type') {
  const type = telephonyType(name);
  if (type === null) {
    throw new TypeError(
      `${what}: unknown telephony event ${JSON.stringify(name)}; expected one of ` +
        `${EVENT_TYPES.join(', ')} (or their LWC names: ${EVENT_TYPES.map(lwcName).join(', ')})`,
    );
  }
  return type;
}

/**
 * Throws an `Error` when `type` (an Aura name) does not exist in `telephony`.
 * @param {string} type
 * @param {'partner' | 'native'} telephony
 */
export function assertSupported(type, telephony) {
  if (telephony === 'native' && NATIVE_UNSUPPORTED.includes(type)) {
    const err = new Error(
      `${type} (${lwcName(type)}) isn't supported in Salesforce Voice (Native Telephony): ` +
        `this voicetk server runs with telephony "native", which never sends ` +
        `${NATIVE_UNSUPPORTED.join(', ')}`,
    );
    err.code = 'unsupported_event';
    throw err;
  }
}
