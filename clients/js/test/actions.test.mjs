// Every call action against calls of the real simulator (`--source simulator:scenario=...`):
// each resolves with the payload of the event that confirms it, once listeners have had it;
// refusals reject with the server's code and status (409 invalid_transition, 422, 501).

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';

import { connect, EVENT_TYPES } from '../src/index.js';
import { connected, LONG_RING, startServer, tempDir, waitFor, writeScenario, rejectsWith } from '../testkit/server.mjs';

let server;
let api;
/** Every payload delivered to the client, in order. */
const delivered = [];

before(async () => {
  const dir = await tempDir();
  const scenario = await writeScenario(dir, 'long-ring', LONG_RING);
  // Two calls for ana arrive at once and ring for an hour: the tests answer, decline and act.
  server = await startServer({
    args: ['--source', `simulator:scenario=${scenario},rate=50,calls=2,agents=ana`],
  });
  await waitFor(async () => (await server.request('GET', '/v1/calls')).calls.length === 2, 'two ringing calls');
  api = await connect({ url: server.url, agent: 'ana' });
  // Every type but the periodic AUDIO_STATS.
  for (const t of EVENT_TYPES.filter((type) => type !== 'AUDIO_STATS')) {
    api.addTelephonyEventListener(t, (p) => delivered.push(p));
  }
  await waitFor(() => delivered.length >= 2, 'the replay of the two ringing calls');
});

after(async () => {
  await api?.close();
  await server?.stop();
});

/**
 * Runs an action and checks the common contract: it resolves with the confirming payload
 * of `type` for the call that was current, which listeners already received.
 */
async function confirms(action, type, callId = api.currentCall.callId) {
  const payload = await action();
  assert.equal(payload.type, type);
  assert.equal(payload.detail.callId, callId);
  assert.equal(payload.agent, 'ana');
  assert.ok(Number.isSafeInteger(payload.seq));
  assert.ok(delivered.includes(payload), `the ${type} listener had the payload before the action resolved`);
  return payload;
}

describe('actions on the current call', () => {
  let first;
  let second;
  let caller;

  test('the current call is the newest ringing call', () => {
    const calls = api.calls;
    assert.equal(calls.length, 2);
    [first, second] = calls.map((c) => c.callId);
    assert.equal(api.currentCall.callId, second);
    assert.equal(api.currentCall.state, 'ringing');
  });

  test('declineCall ends the ringing call; the previous call becomes current', async () => {
    await confirms(() => api.declineCall(), 'CALL_ENDED', second);
    assert.equal(api.currentCall.callId, first);
  });

  test('acceptCall connects it', async () => {
    const p = await confirms(() => api.acceptCall(), 'CALL_CONNECTED', first);
    assert.equal(api.currentCall.state, 'connected');
    caller = p.detail.participant;
    assert.equal(caller, api.currentCall.participant);
    await rejectsWith(api.acceptCall(), 409, 'invalid_transition', /accept-call needs a ringing call/);
    await rejectsWith(api.declineCall(), 409, 'invalid_transition', /decline-call needs a ringing call/);
  });

  test('mute, and mute again is refused with 409', async () => {
    await confirms(() => api.mute(), 'MUTE');
    assert.equal(api.currentCall.muted, true);
    await rejectsWith(api.mute(), 409, 'invalid_transition', /already muted/);
  });

  test('unmute', async () => {
    await confirms(() => api.unmute(), 'UNMUTE');
    assert.equal(api.currentCall.muted, false);
    await rejectsWith(api.unmute(), 409, 'invalid_transition');
  });

  test('hold and resume the initial caller', async () => {
    const held = await confirms(() => api.hold('Initial_Caller'), 'HOLD');
    assert.equal(held.detail.participant, caller);
    await rejectsWith(api.hold('Initial_Caller'), 409, 'invalid_transition');
    const resumed = await confirms(() => api.resume('Initial_Caller'), 'RESUME');
    assert.equal(resumed.detail.participant, caller);
  });

  test('a bad participantType is refused by the client and the server, naming the field', async () => {
    await assert.rejects(api.hold(), (e) => e.code === 'missing_field' && e.path === 'participantType');
    await assert.rejects(api.resume('Supervisor'), (e) => e.code === 'invalid_value' && /participantType/.test(e.message));
    // Agent is a valid participantType, but not one that can be held: the server says so.
    await rejectsWith(api.hold('Agent'), 422, 'invalid_value', /Agent cannot be held/);
    await assert.rejects(api.hold('Agent'), (e) => e.path === 'participantType');
  });

  test('pauseRecording and resumeRecording', async () => {
    await confirms(() => api.pauseRecording(), 'PAUSE_RECORDING');
    assert.equal(api.currentCall.recording, 'paused');
    await rejectsWith(api.pauseRecording(), 409, 'invalid_transition');
    await confirms(() => api.resumeRecording(), 'RESUME_RECORDING');
    assert.equal(api.currentCall.recording, 'active');
  });

  test('merge and swap need two participants: 409', async () => {
    await rejectsWith(api.merge(), 409, 'invalid_transition', /two participants/);
    await rejectsWith(api.swap(), 409, 'invalid_transition');
  });

  test('addParticipant, swap, merge, and drop the third party', async () => {
    const added = await confirms(() => api.addParticipant('PhoneNumber', '+1 (415) 555-0199', false), 'PARTICIPANT_ADDED');
    assert.equal(added.detail.participant, '+1 (415) 555-0199');
    await confirms(() => api.hold('Initial_Caller'), 'HOLD');
    await confirms(() => api.swap(), 'SWAP');
    assert.deepEqual(
      api.currentCall.participants.map((p) => [p.participant, p.onHold]),
      [
        [caller, false],
        ['+1 (415) 555-0199', true],
      ],
    );
    await confirms(() => api.merge(), 'CONFERENCE');
    assert.ok(api.currentCall.participants.every((p) => !p.onHold));
    const removed = await confirms(() => api.endCall('Third_Party'), 'PARTICIPANT_REMOVED');
    assert.equal(removed.detail.participant, '+1 (415) 555-0199');
    await rejectsWith(api.addParticipant('PhoneNumber', '', false), 422, 'invalid_value');
  });

  test('sendDigits resolves with seq null: no event reports DTMF', async () => {
    assert.deepEqual(await api.sendDigits('12#*,9'), { seq: null });
    await assert.rejects(api.sendDigits('12a'), (e) => e.status === 422 && e.path === 'digits');
  });

  test('endCall ends it; then there is no current call', async () => {
    await confirms(() => api.endCall(), 'CALL_ENDED', first);
    assert.equal(api.currentCall, null);
    await assert.rejects(api.mute(), (e) => {
      assert.equal(e.code, 'no_current_call');
      assert.equal(e.status, undefined);
      assert.match(e.message, /^mute: no current call for agent "ana"/);
      return true;
    });
  });

  test('startPreviewCall places a call that becomes the current call', async () => {
    assert.equal(api.currentCall, null);
    const p = await api.startPreviewCall('+1 (415) 555-0142');
    assert.equal(p.type, 'CALL_STARTED');
    assert.equal(p.agent, 'ana');
    assert.ok(delivered.includes(p), 'the listener had the payload before the action resolved');
    assert.equal(p.detail.participant, '+1 (415) 555-0142');
    assert.equal(p.detail.callType, 'outbound');
    assert.equal(api.currentCall.callId, p.detail.callId);
    assert.equal(api.currentCall.callType, 'outbound');
    await confirms(() => api.endCall(), 'CALL_ENDED', p.detail.callId);
    await rejectsWith(api.startPreviewCall(''), 422, 'invalid_value', /phoneNumber/);
  });

  test('a call no source owns (posted over HTTP) is refused with 501', async () => {
    await server.post(connected('posted-1', 'ana'));
    await waitFor(() => api.currentCall?.callId === 'posted-1', 'the posted call to become current');
    await rejectsWith(api.mute(), 501, 'not_implemented', /no source can act on call "posted-1"/);
  });
});
