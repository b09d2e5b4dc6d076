// The console's call model against the engine's rules (crates/engine/TRANSITIONS.md), and the
// timeline's ordering and de-duplication: pure code, no browser.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Store, applyEvent, audioPoint } from '../src/store.js';

let seq = 0;
const ev = (type, detail, extra = {}) => ({
  type, detail: { callId: 'c1', ...detail }, seq: ++seq, timestamp: new Date(1_700_000_000_000 + seq * 1000).toISOString(), agent: 'ana', ...extra,
});

test('a call goes through its lifecycle with hold, mute, recording, conference and swap', () => {
  seq = 0;
  let c = applyEvent(undefined, ev('CALL_STARTED', { callType: 'inbound', participant: '+1 415 555 0100' }));
  assert.equal(c.lifecycle, 'started');
  assert.equal(c.agent, 'ana');
  assert.deepEqual(c.participants, [{ participant: '+1 415 555 0100', role: 'initialCaller', onHold: false }]);
  c = applyEvent(c, ev('CALL_CONNECTED', { callType: 'inbound', participant: '+1 415 555 0100', callAttributes: { languageCode: 'en-US' } }));
  assert.equal(c.lifecycle, 'connected');
  assert.equal(c.participants.length, 1, 'the caller is not added twice');
  assert.deepEqual(c.callAttributes, { languageCode: 'en-US' });
  c = applyEvent(c, ev('HOLD', { participant: '+1 415 555 0100' }));
  assert.equal(c.participants[0].onHold, true);
  c = applyEvent(c, ev('PARTICIPANT_ADDED', { participant: 'Supervisor' }));
  assert.deepEqual(c.participants.map((p) => [p.participant, p.role, p.onHold]),
    [['+1 415 555 0100', 'initialCaller', true], ['Supervisor', 'thirdParty', false]]);
  c = applyEvent(c, ev('SWAP', {}));
  assert.deepEqual(c.participants.map((p) => p.onHold), [false, true]);
  c = applyEvent(c, ev('CONFERENCE', {}));
  assert.deepEqual(c.participants.map((p) => p.onHold), [false, false]);
  c = applyEvent(c, ev('PARTICIPANT_REMOVED', { participant: 'Supervisor' }));
  assert.equal(c.participants.length, 1);
  c = applyEvent(c, ev('MUTE', {}));
  assert.equal(c.muted, true);
  c = applyEvent(c, ev('UNMUTE', {}));
  assert.equal(c.muted, false);
  c = applyEvent(c, ev('PAUSE_RECORDING', {}));
  assert.equal(c.recording, 'paused');
  c = applyEvent(c, ev('RESUME_RECORDING', {}));
  assert.equal(c.recording, 'active');
  c = applyEvent(c, ev('CALL_ENDED', {}));
  assert.equal(c.lifecycle, 'ended');
  c = applyEvent(c, ev('WRAP_UP_ENDED', {}));
  assert.equal(c.lifecycle, 'closed');
  assert.equal(c.lastSeq, seq);
});

test('an event at or below the state it is applied to changes nothing', () => {
  seq = 10;
  const c = applyEvent(undefined, ev('CALL_CONNECTED', { callType: 'outbound', participant: 'x' }));
  const stale = { ...ev('MUTE', {}), seq: c.lastSeq };
  assert.equal(applyEvent(c, stale), c);
});

test('AUDIO_STATS keeps the last stats per channel and a point with the engine loss share', () => {
  seq = 20;
  let c = applyEvent(undefined, ev('CALL_CONNECTED', { callType: 'inbound', participant: 'x' }));
  const input = ev('AUDIO_STATS', { stats: 'inputChannelStats', packetsCount: 240, packetsLost: 10, jitterBufferMillis: 12, roundTripTimeMillis: 80, statsCount: 5, mos: 4.1 });
  const output = ev('AUDIO_STATS', { stats: 'outputChannelStats', packetsCount: 250, packetsLost: 5, jitterBufferMillis: 7, roundTripTimeMillis: 81, statsCount: 5 });
  c = applyEvent(applyEvent(c, input), output);
  assert.equal(c.audio.input.mos, 4.1);
  assert.equal(c.audio.output.mos, null, 'an interval without mos has none');
  const pIn = audioPoint(input);
  const pOut = audioPoint(output);
  assert.equal(pIn.channel, 'input');
  assert.equal(pIn.lossPct, 4); // 10 / (240 + 10)
  assert.equal(pOut.lossPct, 2); // 5 / 250 sent
  assert.equal(pIn.jitter, 12);
  assert.equal(pIn.rtt, 80);
});

test('the store orders the timeline by seq, drops duplicates and prefers the newer of snapshot and event', () => {
  const store = new Store();
  const seen = [];
  store.on('event', (e) => seen.push(e.seq));
  const mk = (s, type, detail = {}) => ({ type, detail: { callId: 'c9', ...detail }, seq: s, timestamp: new Date(s * 1000).toISOString(), agent: 'ben' });
  store.loadCalls([{ ...applyEvent(undefined, mk(5, 'CALL_CONNECTED', { callType: 'inbound', participant: 'p' })), muted: true, lastSeq: 7 }]);
  assert.equal(store.add(mk(6, 'UNMUTE')), true);
  assert.equal(store.calls.get('c9').muted, true, 'an event older than the snapshot does not undo it');
  assert.equal(store.add(mk(6, 'UNMUTE')), false, 'a seq seen twice is dropped');
  store.add(mk(9, 'UNMUTE'));
  store.add(mk(8, 'HOLD', { participant: 'p' }));
  assert.deepEqual(store.events.map((e) => e.seq), [6, 8, 9]);
  assert.equal(store.calls.get('c9').muted, false);
  assert.deepEqual(seen, [6, 9, 8]);
  store.loadCalls([{ ...store.calls.get('c9'), lastSeq: 3, muted: true }]);
  assert.equal(store.calls.get('c9').muted, false, 'an older snapshot does not replace newer state');
});

test('pruning forgets closed calls and calls ended long ago, with their audio', () => {
  const store = new Store();
  const at = (s) => new Date(s * 1000).toISOString();
  const mk = (s, callId, type, detail = {}) => ({ type, detail: { callId, ...detail }, seq: s, timestamp: at(s), agent: 'ana' });
  store.add(mk(1, 'a', 'CALL_CONNECTED', { callType: 'inbound', participant: 'p' }));
  store.add(mk(2, 'b', 'CALL_CONNECTED', { callType: 'inbound', participant: 'q' }));
  store.add(mk(3, 'c', 'CALL_CONNECTED', { callType: 'inbound', participant: 'r' }));
  store.add(mk(4, 'a', 'AUDIO_STATS', { stats: 'inputChannelStats', packetsCount: 10, packetsLost: 0, jitterBufferMillis: 1, roundTripTimeMillis: 2, statsCount: 1 }));
  store.add(mk(5, 'a', 'CALL_ENDED'));
  store.add(mk(6, 'a', 'WRAP_UP_ENDED'));
  store.add(mk(7, 'b', 'CALL_ENDED'));
  const changed = [];
  store.on('calls', (ids) => changed.push(...ids));
  assert.equal(store.prune(8_000), 1, 'the closed call goes; b ended 1 s ago stays');
  assert.deepEqual([...store.calls.keys()].sort(), ['b', 'c']);
  assert.equal(store.audio.has('a'), false);
  assert.deepEqual(changed, ['a']);
  assert.equal(store.prune(7_000 + 31 * 60 * 1000), 1, 'b ended more than 30 min ago');
  assert.deepEqual([...store.calls.keys()], ['c']);
  assert.equal(store.events.length, 7, 'the timeline keeps its entries');
});
