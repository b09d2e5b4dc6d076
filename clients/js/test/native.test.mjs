// Native telephony (`voicetk serve --telephony native`): AUDIO_STATS, CALL_STARTED, SWAP and
// WRAP_UP_ENDED do not exist there, so listening for them throws, under either naming and
// either style; the other events work as usual.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';

import { connect, NATIVE_UNSUPPORTED } from '../src/index.js';
import { connected, startServer, waitFor } from '../testkit/server.mjs';

let server;
let api;
/** Every request the client made (method and URL), through a recording wrapper of fetch. */
const requests = [];

/** The global fetch, recording what it is asked for in `log`. */
function recordingFetch(log, rewrite = (_url, res) => res) {
  return async (url, init) => {
    log.push(`${init?.method ?? 'GET'} ${url}`);
    return rewrite(String(url), await fetch(url, init));
  };
}

before(async () => {
  server = await startServer({ args: ['--telephony', 'native'] });
  api = await connect({ url: server.url, agent: 'ana', fetch: recordingFetch(requests) });
});

after(async () => {
  await api?.close();
  await server?.stop();
});

test('the client learns the telephony from the server', () => {
  assert.equal(api.telephony, 'native');
  assert.deepEqual([...NATIVE_UNSUPPORTED], ['AUDIO_STATS', 'CALL_STARTED', 'SWAP', 'WRAP_UP_ENDED']);
});

test('/healthz says native: no request the server refuses (no CALL_STARTED probe)', async () => {
  const health = await server.request('GET', '/healthz');
  assert.equal(health.telephony, 'native');
  assert.ok(requests.length >= 2, requests.join('\n'));
  assert.match(requests[0], /^GET http:\/\/127\.0\.0\.1:\d+\/healthz$/);
  assert.ok(requests.every((r) => !/types=CALL_STARTED/.test(r)), requests.join('\n'));
  // The token check the client still makes asks for an event type Native telephony has.
  assert.ok(requests.some((r) => /\/v1\/events\?.*types=CALL_CONNECTED/.test(r)), requests.join('\n'));
});

test('a server whose /healthz does not say (an older voicetk) is probed with CALL_STARTED', async () => {
  // The real server's answers, with `telephony` taken out of /healthz's.
  const seen = [];
  const older = await connect({
    url: server.url,
    agent: 'ana',
    fetch: recordingFetch(seen, async (url, res) => {
      if (new URL(url).pathname !== '/healthz') return res;
      const { telephony, ...rest } = await res.json();
      assert.equal(telephony, 'native');
      return new Response(JSON.stringify(rest), { status: res.status, headers: res.headers });
    }),
  });
  try {
    assert.equal(older.telephony, 'native', 'learned from the 422');
    assert.ok(seen.some((r) => /types=CALL_STARTED/.test(r)), seen.join('\n'));
  } finally {
    await older.close();
  }
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
