// WebRTC audio statistics for voicetk's AUDIO_STATS: the few `getStats()` members the server
// aggregates, in W3C names and units (seconds), posted as they are.

/**
 * Picks the audio entries voicetk reads from a `getStats()` report:
 * `{inbound: {packetsReceived, packetsLost, jitter?}, outbound: {packetsSent},
 *   remoteInbound: {packetsLost?, jitter?, roundTripTime?}}`, each entry only when the report
 * has it (counters are cumulative, as WebRTC reports them). `null` while the report has
 * neither an inbound nor an outbound audio entry.
 * @param {{values?: () => Iterable<any>, forEach?: (fn: (s: any) => void) => void}} report
 */
export function readAudioStats(report) {
  let inbound = null;
  let outbound = null;
  let remote = null;
  const visit = (s) => {
    if (!s || (s.kind ?? s.mediaType) !== 'audio') return;
    if (s.type === 'inbound-rtp' && inbound === null) inbound = s;
    else if (s.type === 'outbound-rtp' && outbound === null) outbound = s;
    else if (s.type === 'remote-inbound-rtp' && remote === null) remote = s;
  };
  if (typeof report?.values === 'function') {
    for (const s of report.values()) visit(s);
  } else if (typeof report?.forEach === 'function') {
    report.forEach(visit);
  }
  const body = {};
  if (inbound && Number.isInteger(inbound.packetsReceived) && Number.isInteger(inbound.packetsLost)) {
    body.inbound = { packetsReceived: inbound.packetsReceived, packetsLost: inbound.packetsLost };
    if (Number.isFinite(inbound.jitter)) body.inbound.jitter = inbound.jitter;
  }
  if (outbound && Number.isInteger(outbound.packetsSent)) {
    body.outbound = { packetsSent: outbound.packetsSent };
  }
  if (remote) {
    const r = {};
    if (Number.isInteger(remote.packetsLost)) r.packetsLost = remote.packetsLost;
    if (Number.isFinite(remote.jitter)) r.jitter = remote.jitter;
    if (Number.isFinite(remote.roundTripTime)) r.roundTripTime = remote.roundTripTime;
    if (Object.keys(r).length > 0) body.remoteInbound = r;
  }
  // A receiver report alone says nothing about this interval's packets: voicetk needs one
  // of the local entries.
  return body.inbound || body.outbound ? body : null;
}
