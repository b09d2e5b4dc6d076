// Reconnects: the client resumes after the last seq it delivered, so across dropped sockets
// and a server killed and restarted (same port, same data) every event is delivered exactly
// once, in order. close() ends it for good.
//
// A TCP relay (testkit/proxy.mjs) sits between the client and the server where a test must
// drop the client's connection, or keep it away while events it misses are published.

import { after, test } from 'node:test';
import assert from 'node:assert/strict';

import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';

import { connect } from '../src/index.js';
import { startProxy } from '../testkit/proxy.mjs';
import { connected, nextEvent, sleep, startServer, waitFor } from '../testkit/server.mjs';

const FAST = { baseMs: 20, maxMs: 200 };
const cleanups = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
});

/** Records every non-replayed seq a client delivers to its listeners, and its connection events. */
function record(api) {
  const log = { seqs: [], connected: 0, disconnected: [] };
  const types = ['CALL_CONNECTED', 'MUTE', 'UNMUTE', 'HOLD', 'RESUME', 'CALL_ENDED'];
  for (const t of types) {
    api.addTelephonyEventListener(t, (p) => {
      if (!p.replayed) log.seqs.push(p.seq);
    });
  }
  api.addEventListener('connected', () => {
    log.connected += 1;
  });
  api.addEventListener('disconnected', (e) => log.disconnected.push(e.detail));
  return log;
}

/** Asserts `seqs` is exactly from..to, each once, in order. */
function assertExactly(seqs, from, to) {
  const expected = Array.from({ length: to - from + 1 }, (_, i) => from + i);
  const dupes = seqs.filter((s, i) => seqs.indexOf(s) !== i);
  const missing = expected.filter((s) => !seqs.includes(s));
  assert.deepEqual({ dupes, missing }, { dupes: [], missing: [] });
  assert.deepEqual(seqs, expected);
}

/** Posts MUTE/UNMUTE alternately on `callId`, `n` times, one request each. */
async function toggle(server, callId, state, n) {
  const seqs = [];
  for (let i = 0; i < n; i++) {
    state.muted = !state.muted;
    const { seq } = await server.post({ type: state.muted ? 'MUTE' : 'UNMUTE', detail: { callId } });
    seqs.push(seq);
  }
  return seqs;
}

test('dropped sockets: no event lost or doubled while a publisher keeps going', async () => {
  const server = await startServer();
  cleanups.push(() => server.stop());
  const proxy = await startProxy(server.port);
  cleanups.push(() => proxy.close());

  const first = (await server.post(connected('drop-1', 'ana'))).seq;
  const api = await connect({ url: proxy.url, agent: 'ana', reconnect: FAST, after: first - 1 });
  cleanups.push(() => api.close());
  const log = record(api);
  const state = { muted: false };

  // A publisher posting straight to the server the whole time.
  let publishing = true;
  const publisher = (async () => {
    while (publishing) await toggle(server, 'drop-1', state, 1);
  })();

  for (let round = 0; round < 4; round++) {
    await waitFor(() => log.seqs.length > 10 * (round + 1), `events before cut ${round + 1}`);
    const dropped = nextEvent(api, 'disconnected');
    proxy.block(); // reconnect attempts fail until unblock(): the publisher's events pile up
    proxy.cut();
    await dropped;
    assert.equal(api.state, 'disconnected');
    const missedFrom = await server.lastSeq();
    await waitFor(async () => (await server.lastSeq()) >= missedFrom + 5, 'events published while away');
    const back = nextEvent(api, 'connected');
    proxy.unblock();
    await back;
    assert.equal(api.state, 'connected');
  }
  publishing = false;
  await publisher;
  const last = await server.lastSeq();
  await waitFor(() => api.lastSeq >= last, `the client to catch up to seq ${last}`);
  // CALL_CONNECTED first (resumed after first - 1), then every MUTE/UNMUTE, once each.
  assertExactly(log.seqs, first, last);
  assert.equal(log.disconnected.length, 4);
  assert.ok(log.connected >= 4);
  assert.ok(log.disconnected.every((d) => Number.isSafeInteger(d.lastSeq)));
});

test('server killed and restarted on the same port and data: resumes with no gap or duplicate', async () => {
  let server = await startServer();
  cleanups.push(() => server.stop());
  const proxy = await startProxy(server.port);
  cleanups.push(() => proxy.close());

  const first = (await server.post(connected('kill-1', 'ana'))).seq;
  // Listeners right after each connect(): what came before it is handed over a task later.
  const direct = await connect({ url: server.url, agent: 'ana', reconnect: FAST, after: first - 1 });
  const logs = [record(direct)];
  const relayed = await connect({ url: proxy.url, agent: 'ana', reconnect: FAST, after: first - 1 });
  logs.push(record(relayed));
  cleanups.push(() => direct.close(), () => relayed.close());
  const state = { muted: false };

  for (let round = 0; round < 2; round++) {
    const before = await toggle(server, 'kill-1', state, 20);
    await waitFor(
      () => direct.lastSeq >= before.at(-1) && relayed.lastSeq >= before.at(-1),
      'both clients to get the events before the kill',
    );
    const gone = [nextEvent(direct, 'disconnected'), nextEvent(relayed, 'disconnected')];
    proxy.block();
    await server.kill('SIGKILL');
    await Promise.all(gone);

    // Same port, same data directory: the log and the call are still there.
    server = await startServer({ addr: server.addr, data: server.data });
    // The relayed client cannot reach it yet: what is published now, it must resume.
    const missed = await toggle(server, 'kill-1', state, 15);
    assert.equal(missed[0], before.at(-1) + 1, 'seqs continue after the restart');
    await waitFor(() => direct.lastSeq >= missed.at(-1), 'the direct client to reconnect and catch up');
    assert.equal(relayed.lastSeq, before.at(-1), 'the relayed client missed them');
    proxy.unblock();
    await waitFor(() => relayed.lastSeq >= missed.at(-1), 'the relayed client to resume');
  }
  const last = await server.lastSeq();
  for (const log of logs) assertExactly(log.seqs, first, last);
  for (const api of [direct, relayed]) assert.equal(api.currentCall.callId, 'kill-1');
});

test('a graceful shutdown (close 1001) is reconnected after too', async () => {
  let server = await startServer();
  cleanups.push(() => server.stop());
  const first = (await server.post(connected('term-1', 'ana'))).seq;
  const api = await connect({ url: server.url, agent: 'ana', reconnect: FAST, after: first - 1 });
  cleanups.push(() => api.close());
  const log = record(api);
  const gone = nextEvent(api, 'disconnected');
  await server.kill('SIGTERM');
  const { detail } = await gone;
  assert.equal(detail.code, 1001);
  assert.match(detail.reason, /shutting down/);
  server = await startServer({ addr: server.addr, data: server.data });
  const { seq } = await server.post({ type: 'HOLD', detail: { callId: 'term-1', participant: '+1 415 555 0100' } });
  await waitFor(() => api.lastSeq >= seq, 'the HOLD after the restart');
  assertExactly(log.seqs, first, seq);
});

test('history pruned while away: reported, then a replay of the calls in progress', async () => {
  let server = await startServer();
  cleanups.push(() => server.stop());
  const proxy = await startProxy(server.port);
  cleanups.push(() => proxy.close());
  const first = (await server.post(connected('pruned-1', 'ana'))).seq;
  const api = await connect({ url: proxy.url, agent: 'ana', reconnect: FAST, after: first - 1 });
  cleanups.push(() => api.close());
  const log = record(api);
  const replayed = [];
  api.addTelephonyEventListener('HOLD', (p) => p.replayed && replayed.push(p.seq));
  const errors = [];
  api.addEventListener('error', (e) => {
    errors.push(e.detail);
    e.preventDefault();
  });
  await waitFor(() => log.seqs.length === 1, 'the CALL_CONNECTED');

  const gone = nextEvent(api, 'disconnected');
  proxy.block();
  proxy.cut();
  await gone;
  const state = { muted: false };
  const missed = await toggle(server, 'pruned-1', state, 20);
  // Restart keeping only the last 5 events: what the client missed is gone from the log.
  await server.kill('SIGTERM');
  const config = join(server.data, 'retention.toml');
  await writeFile(config, '[retention]\nmax_events = 5\n');
  server = await startServer({ addr: server.addr, data: server.data, args: ['--config', config] });
  await waitFor(
    async () => (await server.request('GET', '/v1/events?after=0&limit=1')).events[0]?.seq > missed[0],
    'retention to prune the log',
  );
  const { seq: held } = await server.post({ type: 'HOLD', detail: { callId: 'pruned-1', participant: '+1 415 555 0100' } });
  const back = nextEvent(api, 'connected');
  proxy.unblock();
  await back;
  assert.equal(errors.length, 1);
  assert.equal(errors[0].error.code, 'history_pruned');
  assert.equal(errors[0].source, 'connection');
  // The call is still in progress: its remaining events come replayed, the HOLD among them.
  await waitFor(() => replayed.includes(held), 'the replayed HOLD');
  assert.equal(api.currentCall.callId, 'pruned-1');
  assert.equal(api.currentCall.participants[0].onHold, true);
  // And live delivery goes on from there, nothing twice.
  const { seq: resumed } = await server.post({ type: 'RESUME', detail: { callId: 'pruned-1', participant: '+1 415 555 0100' } });
  await waitFor(() => log.seqs.includes(resumed), 'the RESUME after the replay');
  assert.deepEqual(log.seqs, [first, resumed]);
});

test('close() ends it for good: no events, no reconnect, actions reject', async () => {
  const server = await startServer();
  cleanups.push(() => server.stop());
  const proxy = await startProxy(server.port);
  cleanups.push(() => proxy.close());
  await server.post(connected('close-1', 'ana'));
  const watcher = await connect({ url: server.url, agent: 'ana' });
  cleanups.push(() => watcher.close());
  const api = await connect({ url: proxy.url, agent: 'ana', reconnect: FAST });
  const log = record(api);
  const closedEvents = [];
  api.addEventListener('closed', (e) => closedEvents.push(e));
  await waitFor(async () => (await server.metric('voicetk_subscribers{transport="ws"}')) === 2, 'two subscribers');

  await api.close();
  assert.equal(api.state, 'closed');
  assert.equal(closedEvents.length, 1);
  await api.close(); // idempotent
  assert.equal(closedEvents.length, 1);
  await waitFor(async () => (await server.metric('voicetk_subscribers{transport="ws"}')) === 1, 'the socket gone');

  const accepted = proxy.accepted;
  const { seq } = await server.post({ type: 'MUTE', detail: { callId: 'close-1' } });
  await waitFor(() => watcher.lastSeq >= seq, 'the other client to get the MUTE');
  assert.deepEqual(log.seqs, [], 'nothing delivered after close');
  assert.equal(api.lastSeq < seq, true);
  await assert.rejects(api.mute(), (e) => e.code === 'closed');
  assert.throws(() => api.publishAudioStats({ getStats: async () => new Map() }), (e) => e.code === 'closed');
  // Several back-off periods: a client still running would have tried to reconnect.
  await sleep(4 * FAST.maxMs);
  assert.equal(proxy.accepted, accepted, 'no reconnect attempt after close');
});

test('close() while reconnecting stops the retries', async () => {
  const server = await startServer();
  cleanups.push(() => server.stop());
  const proxy = await startProxy(server.port);
  cleanups.push(() => proxy.close());
  const api = await connect({ url: proxy.url, agent: 'ana', reconnect: FAST });
  const gone = nextEvent(api, 'disconnected');
  proxy.block();
  proxy.cut();
  await gone;
  await waitFor(() => proxy.accepted >= 3, 'reconnect attempts against the blocked relay');
  await api.close();
  const attempts = proxy.accepted;
  proxy.unblock();
  await sleep(4 * FAST.maxMs);
  assert.equal(proxy.accepted, attempts, 'no attempt after close');
  assert.equal(api.state, 'closed');
});
