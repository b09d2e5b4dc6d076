// `api.forCall(callId)`: the call actions on a given call, whichever call is current, against
// calls of the real simulator. Same confirmation semantics as the client's own actions
// (resolve with the confirming payload once listeners had it; reject with the server's code,
// status and message), while the Salesforce methods keep acting on the current call.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';

import { connect, EVENT_TYPES } from '../src/index.js';
import { LONG_RING, startServer, tempDir, waitFor, writeScenario, rejectsWith } from '../testkit/server.mjs';

let server;
let api;
/** Every payload delivered to the client's listeners, in order. */
const delivered = [];

before(async () => {
  const dir = await tempDir();
  const scenario = await writeScenario(dir, 'long-ring', LONG_RING);
  // Three calls for ana and one for ben arrive at once and ring for an hour.
  server = await startServer({
    args: [
      '--source', `simulator:scenario=${scenario},rate=50,calls=3,agents=ana`,
      '--source', `simulator:scenario=${scenario},rate=50,calls=1,agents=ben`,
    ],
  });
  await waitFor(async () => (await server.request('GET', '/v1/calls')).calls.length === 4, 'four ringing calls');
  api = await connect({ url: server.url, agent: 'ana' });
  // Every type but the periodic AUDIO_STATS.
  for (const t of EVENT_TYPES.filter((type) => type !== 'AUDIO_STATS')) {
    api.addTelephonyEventListener(t, (p) => delivered.push(p));
  }
  await waitFor(() => delivered.length >= 3, 'the replay of ana\'s three ringing calls');
});

after(async () => {
  await api?.close();
  await server?.stop();
});

/** The call as the server has it (GET /v1/calls/{id}). */
async function serverCall(callId) {
  return (await server.request('GET', `/v1/calls/${encodeURIComponent(callId)}`)).call;
}

describe('forCall(callId) acts on that call, not on the current call', () => {
  /** ana's calls, oldest first: the last is the current call. */
  let oldest;
  let middle;
  let newest;
  let caller;
  /** The actions on `oldest`. */
  let actions;

  /**
   * Runs an action on `callId` and checks the contract: it resolves with the confirming
   * payload of `type` for that call, which the listeners already had, and the current call
   * stays `newest`, untouched.
   */
  async function confirms(action, type, callId = oldest) {
    const payload = await action();
    assert.equal(payload.type, type);
    assert.equal(payload.detail.callId, callId);
    assert.equal(payload.agent, 'ana');
    assert.ok(Number.isSafeInteger(payload.seq));
    assert.ok(delivered.includes(payload), `the ${type} listener had the payload before the action resolved`);
    assert.equal(api.currentCall.callId, newest, 'the current call is still the newest one');
    return payload;
  }

  test('the client follows three ringing calls; the current one is the newest', () => {
    const calls = api.calls;
    assert.equal(calls.length, 3);
    [oldest, middle, newest] = calls.map((c) => c.callId);
    assert.equal(api.currentCall.callId, newest);
    actions = api.forCall(oldest);
    assert.equal(actions.callId, oldest);
    assert.ok(Object.isFrozen(actions));
  });

  test('acceptCall answers the oldest call; the newest stays current and ringing', async () => {
    const p = await confirms(() => actions.acceptCall(), 'CALL_CONNECTED');
    caller = p.detail.participant;
    assert.equal(api.currentCall.state, 'ringing');
    assert.equal(api.calls.find((c) => c.callId === oldest).state, 'connected');
    assert.equal((await serverCall(newest)).lifecycle, 'started', 'the server agrees: the newest still rings');
    // The client's own method still acts on the current call: it is ringing, so mute is refused.
    await rejectsWith(api.mute(), 409, 'invalid_transition');
    await rejectsWith(actions.acceptCall(), 409, 'invalid_transition', /accept-call needs a ringing call/);
  });

  test('declineCall on the middle call ends it and only it', async () => {
    await confirms(() => api.forCall(middle).declineCall(), 'CALL_ENDED', middle);
    assert.deepEqual(api.calls.map((c) => c.callId), [oldest, newest]);
  });

  test('mute and unmute, with 409 on a repeat', async () => {
    await confirms(() => actions.mute(), 'MUTE');
    assert.equal(api.calls.find((c) => c.callId === oldest).muted, true);
    assert.equal(api.currentCall.muted, false);
    await rejectsWith(actions.mute(), 409, 'invalid_transition', /already muted/);
    await confirms(() => actions.unmute(), 'UNMUTE');
  });

  test('hold and resume the initial caller', async () => {
    const held = await confirms(() => actions.hold('Initial_Caller'), 'HOLD');
    assert.equal(held.detail.participant, caller);
    assert.equal((await serverCall(oldest)).participants[0].onHold, true);
    await confirms(() => actions.resume('Initial_Caller'), 'RESUME');
  });

  test('a bad participantType is refused by the client and the server, naming the field', async () => {
    await assert.rejects(actions.hold(), (e) => e.code === 'missing_field' && e.path === 'participantType');
    await assert.rejects(actions.resume('Boss'), (e) => e.code === 'invalid_value' && e.path === 'participantType');
    await rejectsWith(actions.hold('Agent'), 422, 'invalid_value', /Agent cannot be held/);
  });

  test('pauseRecording and resumeRecording', async () => {
    await confirms(() => actions.pauseRecording(), 'PAUSE_RECORDING');
    assert.equal(api.calls.find((c) => c.callId === oldest).recording, 'paused');
    assert.equal(api.currentCall.recording, 'active');
    await confirms(() => actions.resumeRecording(), 'RESUME_RECORDING');
  });

  test('addParticipant, swap, merge and dropping the third party', async () => {
    await rejectsWith(actions.merge(), 409, 'invalid_transition', /two participants/);
    const added = await confirms(() => actions.addParticipant('PhoneNumber', '+1 415 555 0177', false), 'PARTICIPANT_ADDED');
    assert.equal(added.detail.participant, '+1 415 555 0177');
    await confirms(() => actions.hold('Initial_Caller'), 'HOLD');
    await confirms(() => actions.swap(), 'SWAP');
    assert.deepEqual(
      (await serverCall(oldest)).participants.map((p) => [p.participant, p.onHold]),
      [
        [caller, false],
        ['+1 415 555 0177', true],
      ],
    );
    await confirms(() => actions.merge(), 'CONFERENCE');
    const removed = await confirms(() => actions.endCall('Third_Party'), 'PARTICIPANT_REMOVED');
    assert.equal(removed.detail.participant, '+1 415 555 0177');
  });

  test('sendDigits resolves with seq null; bad digits are a 422 naming the field', async () => {
    assert.deepEqual(await actions.sendDigits('42#'), { seq: null });
    await assert.rejects(actions.sendDigits('4x'), (e) => e.status === 422 && e.path === 'digits');
  });

  test('a call of another agent: confirmed from the socket, its listeners not told', async () => {
    const { calls } = await server.request('GET', '/v1/calls');
    const bens = calls.find((c) => c.agent === 'ben');
    assert.ok(bens, JSON.stringify(calls));
    const before = delivered.length;
    const p = await api.forCall(bens.callId).acceptCall();
    assert.equal(p.type, 'CALL_CONNECTED');
    assert.equal(p.detail.callId, bens.callId);
    assert.equal(p.agent, 'ben');
    assert.equal(delivered.length, before, 'the client follows ana only');
    assert.equal((await serverCall(bens.callId)).lifecycle, 'connected');
  });

  test('an unknown call is refused with 404 unknown_call', async () => {
    await rejectsWith(api.forCall('no-such-call').mute(), 404, 'unknown_call', /no-such-call/);
    await rejectsWith(api.forCall('no such/call?').hold('Initial_Caller'), 404, 'unknown_call');
  });

  test('endCall ends the oldest call; the newest is still current', async () => {
    await confirms(() => actions.endCall(), 'CALL_ENDED');
    assert.deepEqual(api.calls.map((c) => c.callId), [newest]);
    // The current call's own methods still act on it.
    const p = await api.acceptCall();
    assert.equal(p.detail.callId, newest);
  });

  test('a callId that is not a non-empty string throws a TypeError naming callId', () => {
    for (const bad of [undefined, null, '', '  ', 42, { callId: 'x' }]) {
      assert.throws(() => api.forCall(bad), (e) => e instanceof TypeError && /^forCall: callId: expected a non-empty string/.test(e.message));
    }
  });
});

test('after close(), forCall actions reject with code closed', async () => {
  const other = await connect({ url: server.url, agent: 'ana' });
  const actions = other.forCall('whatever');
  await other.close();
  await assert.rejects(actions.mute(), (e) => e.code === 'closed' && e.status === undefined);
});
