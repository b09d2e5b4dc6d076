// Native telephony (`voicetk serve --telephony native`): AUDIO_STATS, CALL_STARTED, SWAP and
// WRAP_UP_ENDED do not exist there, so listening for them throws, under either naming and
// either style; the other events work as usual.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';

import { connect, NATIVE_UNSUPPORTED } from '../src/index.js';
import { connected, startServer, waitFor } from '../testkit/server.mjs';

let server;
let api;

before(async () => {
  server = await startServer({ args: ['--telephony', 'native'] });
  api = await connect({ url: server.url, agent: 'ana' });
});

after(async () => {
  await api?.close();
  await server?.stop();
});

test('the client learns the telephony from the server', () => {
  assert.equal(api.telephony, 'native');
  assert.deepEqual([...NATIVE_UNSUPPORTED], ['AUDIO_STATS', 'CALL_STARTED', 'SWAP', 'WRAP_UP_ENDED']);
});

test('listening for an event Native telephony lacks throws a clear Error', () => {
  const names = {
    AUDIO_STATS: 'audiostats',
    CALL_STARTED: 'callstarted',
    SWAP: 'swap',
    WRAP_UP_ENDED: 'wrapupended',
  };
  for (const [aura, lwc] of Object.entries(names)) {
    for (const name of [aura, lwc]) {
      for (const add of [
        (fn) => api.addTelephonyEventListener(name, fn),
        (fn) => api.addEventListener(name, fn),
      ]) {
        assert.throws(
          () => add(() => {}),
          (e) => {
            assert.ok(e instanceof Error);
            assert.equal(e.code, 'unsupported_event');
            assert.match(e.message, new RegExp(`^${aura} \\(${lwc}\\) isn't supported in Salesforce Voice \\(Native Telephony\\)`));
            assert.match(e.message, /telephony "native"/);
            return true;
          },
        );
      }
    }
    // Removing one is harmless: it cannot have been added.
    api.removeTelephonyEventListener(aura, () => {});
    api.removeEventListener(lwc, () => {});
  }
});

test('the other events are delivered as usual', async () => {
  const got = [];
  api.addTelephonyEventListener('CALL_CONNECTED', (p) => got.push(p.type));
  api.addEventListener('hold', (e) => got.push(e.type));
  api.addEventListener('CALL_ENDED', (e) => got.push(e.type));
  // Native telephony has no CALL_STARTED: CALL_CONNECTED opens the call.
  const { seqs } = await server.post([
    connected('native-1', 'ana'),
    { type: 'HOLD', detail: { callId: 'native-1', participant: '+1 415 555 0100' } },
    { type: 'CALL_ENDED', detail: { callId: 'native-1' } },
  ]);
  await waitFor(() => api.lastSeq >= seqs.at(-1), 'the three events');
  assert.deepEqual(got, ['CALL_CONNECTED', 'hold', 'callended']);
  assert.equal(api.currentCall, null, 'an ended call is no current call');
});

test('the server refuses what the client refuses', async () => {
  await assert.rejects(
    server.post({ type: 'SWAP', detail: { callId: 'native-1' } }),
    (e) => e.status === 422 && /unsupported_event/.test(e.body),
  );
});
