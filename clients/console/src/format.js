// Small formatting helpers shared by the views.

const ESCAPES = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Escapes text for HTML (element content and quoted attributes). */
export const esc = (value) => String(value ?? '').replace(/[&<>"']/g, (c) => ESCAPES[c]);

/** `h:mm:ss` or `m:ss` for a span in milliseconds (negative spans read as 0). */
export function duration(ms) {
  const s = Math.max(0, Math.floor(ms / 1000));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${ss}` : `${m}:${ss}`;
}

/** `HH:MM:SS` local time of a millisecond timestamp. */
export function clock(ms) {
  const d = new Date(ms);
  return [d.getHours(), d.getMinutes(), d.getSeconds()].map((n) => String(n).padStart(2, '0')).join(':');
}

/** The first block of a call id: enough to tell calls apart on screen. */
export const shortId = (callId) => String(callId).split('-')[0].slice(0, 12);

/** MOS band per ITU-T G.107 user satisfaction: good ≥ 4.0, fair ≥ 3.6, poor below. */
export function mosBand(mos) {
  if (typeof mos !== 'number') return null;
  if (mos >= 4.0) return 'good';
  if (mos >= 3.6) return 'fair';
  return 'poor';
}

/** Event kind, for the timeline's colours. */
export function kindOf(type) {
  switch (type) {
    case 'CALL_STARTED': case 'CALL_CONNECTED': case 'CALL_ENDED': case 'WRAP_UP_ENDED': return 'lifecycle';
    case 'HOLD': case 'RESUME': case 'CONFERENCE': case 'SWAP': return 'hold';
    case 'MUTE': case 'UNMUTE': return 'mute';
    case 'PARTICIPANT_ADDED': case 'PARTICIPANT_REMOVED': return 'party';
    case 'PAUSE_RECORDING': case 'RESUME_RECORDING': return 'rec';
    default: return 'audio';
  }
}

/** One line saying what an event is about, beside its type and call. */
export function summary(event) {
  const d = event.detail;
  switch (event.type) {
    case 'AUDIO_STATS': {
      const ch = d.stats === 'outputChannelStats' ? 'sent' : 'received';
      const mos = typeof d.mos === 'number' ? ` · MOS ${d.mos.toFixed(2)}` : '';
      return `${ch}: ${d.packetsLost}/${d.packetsCount} lost · jitter ${d.jitterBufferMillis} ms · RTT ${d.roundTripTimeMillis} ms${mos}`;
    }
    case 'CALL_STARTED':
    case 'CALL_CONNECTED':
      return `${d.callType ?? ''} ${d.participant ?? ''}`.trim();
    default:
      return d.participant ?? '';
  }
}
