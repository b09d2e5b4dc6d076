// Listener rules (CONTRACT.md §5) against a real `voicetk serve`, events scripted with
// POST /v1/events: Aura and LWC styles under both namings, de-duplication, removal, throwing
// listeners, unknown names, the agent's view, the replay of calls in progress.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';

import { connect, EVENT_TYPES, lwcName, VoicetkClient } from '../src/index.js';
import { connected, startServer, waitFor } from '../testkit/server.mjs';

let server;

before(async () => {
  server = await startServer();
});

after(async () => {
  await server?.stop();
});

/** A client for agent ana (or `options`), closed when test `t` ends. */
async function client(t, options = {}) {
  const api = await connect({ url: server.url, agent: 'ana', ...options });
  t.after(() => api.close());
  return api;
}

/**
 * Wraps a listener to see only `callId`'s events: every new client also gets the calls that
 * earlier tests left in progress, replayed.
 */
function only(callId, fn) {
  return (x) => {
    const payload = x instanceof Event ? x.payload : x;
    if (payload.detail.callId === callId) fn(x);
  };
}

/** Posts `payloads` and waits until `api` has delivered past the last of them. */
async function postAndWait(api, payloads) {
  const answer = await server.post(payloads);
  const last = answer.seq ?? answer.seqs.at(-1);
  await waitFor(() => api.lastSeq >= last, `client to reach seq ${last}`);
  return last;
}

let calls = 0;
function newCallId() {
  calls += 1;
  return `listeners-${calls}`;
}

describe('connect', () => {
  test('resolves subscribed, with the server telephony and last seq', async (t) => {
    await server.post(connected(newCallId(), 'ana'));
    const api = await client(t);
    assert.ok(api instanceof VoicetkClient);
    assert.ok(api instanceof EventTarget);
    assert.equal(api.state, 'connected');
    assert.equal(api.telephony, 'partner');
    assert.equal(api.agent, 'ana');
    assert.equal(api.lastSeq, await server.lastSeq());
  });

  test('rejects bad options with errors naming the field', async () => {
    await assert.rejects(connect({ url: 'ftp://x' }), /url: expected an http: or https: URL/);
    await assert.rejects(connect({ url: server.url, agent: '' }), /agent: expected a non-empty string/);
    await assert.rejects(connect({ url: server.url, after: -1 }), /after: expected a seq/);
    await assert.rejects(
      connect({ url: server.url, reconnect: { baseMs: 0 } }),
      /reconnect\.baseMs: expected a positive number/,
    );
    await assert.rejects(connect({ url: server.url, WebSocket: 42 }), /WebSocket/);
  });

  test('rejects with code unreachable when nothing listens', async () => {
    // Port 1 on loopback: nothing listens there, the refusal is immediate.
    await assert.rejects(connect({ url: 'http://127.0.0.1:1' }), (e) => {
      assert.equal(e.code, 'unreachable');
      assert.match(e.message, /cannot reach voicetk/);
      return true;
    });
  });
});

describe('Aura style: addTelephonyEventListener', () => {
  test('delivers the payload with the envelope fields, under either naming', async (t) => {
    const api = await client(t);
    const callId = newCallId();
    const aura = [];
    const lwcNamed = [];
    api.addTelephonyEventListener('CALL_CONNECTED', only(callId, (p) => aura.push(p)));
    api.addTelephonyEventListener('callconnected', only(callId, (p) => lwcNamed.push(p)));
    const seq = await postAndWait(api, connected(callId, 'ana', '+1 (415) 555-0101'));
    assert.equal(aura.length, 1);
    assert.equal(lwcNamed.length, 1);
    const p = aura[0];
    assert.equal(p, lwcNamed[0], 'every listener gets the same payload object');
    assert.equal(p.type, 'CALL_CONNECTED');
    assert.deepEqual(p.detail, { callId, callType: 'inbound', participant: '+1 (415) 555-0101' });
    assert.equal(p.seq, seq);
    assert.equal(p.agent, 'ana');
    assert.match(p.timestamp, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/);
    assert.ok(Object.isFrozen(p) && Object.isFrozen(p.detail), 'payloads are frozen');
  });

  test('the same function twice for one type registers once; removal stops it', async (t) => {
    const api = await client(t);
    const callId = newCallId();
    await postAndWait(api, connected(callId, 'ana'));
    let count = 0;
    const fn = only(callId, () => {
      count += 1;
    });
    api.addTelephonyEventListener('MUTE', fn);
    api.addTelephonyEventListener('MUTE', fn);
    api.addTelephonyEventListener('mute', fn); // same type, other naming
    await postAndWait(api, { type: 'MUTE', detail: { callId } });
    assert.equal(count, 1);

    api.removeTelephonyEventListener('mute', fn);
    const seen = [];
    api.addTelephonyEventListener('UNMUTE', only(callId, (p) => seen.push(p.seq)));
    api.addTelephonyEventListener('MUTE', only(callId, (p) => seen.push(p.seq)));
    await postAndWait(api, [
      { type: 'UNMUTE', detail: { callId } },
      { type: 'MUTE', detail: { callId } },
    ]);
    assert.equal(seen.length, 2, 'the other listeners got both events');
    assert.equal(count, 1, 'the removed listener got nothing more');
  });

  test('removing a function that is not registered does nothing', async (t) => {
    const api = await client(t);
    api.removeTelephonyEventListener('HOLD', () => {});
    api.removeTelephonyEventListener('wrapupended', () => {});
    api.removeEventListener('hold', () => {});
    api.removeEventListener('connected', () => {});
  });

  test('unknown type names and non-functions throw', async (t) => {
    const api = await client(t);
    for (const bad of ['CALL_STARTS', 'call_started', 'CallStarted', '', 'transcript']) {
      assert.throws(() => api.addTelephonyEventListener(bad, () => {}), (e) => {
        assert.ok(e instanceof TypeError);
        assert.match(e.message, /unknown telephony event/);
        assert.match(e.message, /CALL_STARTED/);
        return true;
      });
      assert.throws(() => api.removeTelephonyEventListener(bad, () => {}), TypeError);
      assert.throws(() => api.addEventListener(bad, () => {}), /unknown telephony event/);
    }
    assert.throws(() => api.addTelephonyEventListener('HOLD', 'not a function'), /listener: expected a function/);
    assert.throws(() => api.addEventListener('hold', 42), /listener: expected a function/);
  });

  test('a listener that throws does not stop the others and is reported', async (t) => {
    const api = await client(t);
    const callId = newCallId();
    const boom = new Error('listener bug');
    const got = [];
    const errors = [];
    api.addEventListener('error', (e) => {
      errors.push(e.detail);
      e.preventDefault(); // handled here: no console report
    });
    api.addTelephonyEventListener(
      'CALL_CONNECTED',
      only(callId, () => {
        throw boom;
      }),
    );
    api.addTelephonyEventListener('CALL_CONNECTED', only(callId, (p) => got.push(`aura ${p.seq}`)));
    api.addEventListener(
      'callconnected',
      only(callId, () => {
        throw boom;
      }),
    );
    api.addEventListener('callconnected', only(callId, (e) => got.push(`lwc ${e.payload.seq}`)));
    const seq = await postAndWait(api, connected(callId, 'ana'));
    assert.deepEqual(got, [`aura ${seq}`, `lwc ${seq}`]);
    assert.equal(errors.length, 2);
    for (const d of errors) {
      assert.equal(d.error, boom);
      assert.equal(d.source, 'listener');
    }
    assert.equal(errors[0].type, 'CALL_CONNECTED');
    assert.equal(errors[1].type, 'callconnected');
  });

  test('without an error listener the throw is logged with console.error', async (t) => {
    const api = await client(t);
    const callId = newCallId();
    const logged = [];
    const original = console.error;
    console.error = (...args) => logged.push(args);
    try {
      let after = 0;
      api.addTelephonyEventListener(
        'CALL_CONNECTED',
        only(callId, () => {
          throw new Error('unhandled listener bug');
        }),
      );
      api.addTelephonyEventListener(
        'CALL_CONNECTED',
        only(callId, () => {
          after += 1;
        }),
      );
      await postAndWait(api, connected(callId, 'ana'));
      assert.equal(after, 1);
    } finally {
      console.error = original;
    }
    assert.equal(logged.length, 1);
    assert.match(String(logged[0][0]), /a CALL_CONNECTED listener threw/);
    assert.equal(logged[0][1].message, 'unhandled listener bug');
  });
});

describe('LWC style: addEventListener', () => {
  test('delivers a CustomEvent named with the LWC name, detail = the payload detail', async (t) => {
    const api = await client(t);
    const callId = newCallId();
    await postAndWait(api, connected(callId, 'ana', '+1 (415) 555-0102'));
    const lwc = [];
    const auraNamed = [];
    api.addEventListener('hold', only(callId, (e) => lwc.push(e)));
    api.addEventListener('HOLD', only(callId, (e) => auraNamed.push(e)));
    const seq = await postAndWait(api, { type: 'HOLD', detail: { callId, participant: '+1 (415) 555-0102' } });
    assert.equal(lwc.length, 1);
    assert.equal(auraNamed.length, 1);
    const e = lwc[0];
    assert.ok(e instanceof CustomEvent);
    assert.equal(e.type, 'hold');
    assert.equal(auraNamed[0].type, 'hold', 'an Aura name registers for the LWC event');
    assert.deepEqual(e.detail, { callId, participant: '+1 (415) 555-0102' });
    assert.equal(e.payload.seq, seq);
    assert.equal(e.payload.type, 'HOLD');
    assert.equal(e.payload.agent, 'ana');
  });

  test('EventTarget rules: once per listener, handleEvent objects, removal under either name', async (t) => {
    const api = await client(t);
    const callId = newCallId();
    await postAndWait(api, connected(callId, 'ana'));
    let fnCount = 0;
    const fn = only(callId, () => {
      fnCount += 1;
    });
    const obj = {
      count: 0,
      handleEvent(e) {
        if (e.detail.callId === callId) this.count += 1;
      },
    };
    api.addEventListener('pauserecording', fn);
    api.addEventListener('pauserecording', fn);
    api.addEventListener('PAUSE_RECORDING', fn);
    api.addEventListener('pauserecording', obj);
    await postAndWait(api, { type: 'PAUSE_RECORDING', detail: { callId } });
    assert.equal(fnCount, 1);
    assert.equal(obj.count, 1);
    api.removeEventListener('PAUSE_RECORDING', fn);
    api.removeEventListener('pauserecording', obj);
    let sentinel = 0;
    api.addEventListener(
      'resumerecording',
      only(callId, () => {
        sentinel += 1;
      }),
    );
    await postAndWait(api, [
      { type: 'RESUME_RECORDING', detail: { callId } },
      { type: 'PAUSE_RECORDING', detail: { callId } },
    ]);
    assert.equal(sentinel, 1);
    assert.equal(fnCount, 1);
    assert.equal(obj.count, 1);
  });

  test('every one of the 15 types is deliverable under its LWC name', async (t) => {
    const api = await client(t);
    const names = EVENT_TYPES.map(lwcName);
    assert.deepEqual(names, [
      'audiostats', 'callstarted', 'callconnected', 'callended', 'hold', 'resume', 'mute', 'unmute',
      'participantadded', 'participantremoved', 'conference', 'swap', 'pauserecording',
      'resumerecording', 'wrapupended',
    ]);
    const got = new Map();
    const callId = newCallId();
    for (const n of names) api.addEventListener(n, only(callId, (e) => got.set(e.type, e.payload.type)));
    const caller = '+1 415 555 0103';
    const third = '+1 415 555 0104';
    await postAndWait(api, [
      { type: 'CALL_STARTED', agent: 'ana', detail: { callId, callType: 'outbound', participant: caller } },
      { type: 'CALL_CONNECTED', detail: { callId, callType: 'outbound', participant: caller } },
      {
        type: 'AUDIO_STATS',
        detail: {
          callId, stats: 'inputChannelStats', packetsLost: 1, packetsCount: 100,
          jitterBufferMillis: 4, roundTripTimeMillis: 60, statsCount: 3,
        },
      },
      { type: 'MUTE', detail: { callId } },
      { type: 'UNMUTE', detail: { callId } },
      { type: 'PARTICIPANT_ADDED', detail: { callId, participant: third } },
      { type: 'HOLD', detail: { callId, participant: caller } },
      { type: 'SWAP', detail: { callId } }, // now the third party is the one on hold
      { type: 'RESUME', detail: { callId, participant: third } },
      { type: 'HOLD', detail: { callId, participant: caller } },
      { type: 'CONFERENCE', detail: { callId } },
      { type: 'PARTICIPANT_REMOVED', detail: { callId, participant: third } },
      { type: 'PAUSE_RECORDING', detail: { callId } },
      { type: 'RESUME_RECORDING', detail: { callId } },
      { type: 'CALL_ENDED', detail: { callId } },
      { type: 'WRAP_UP_ENDED', detail: { callId } },
    ]);
    assert.deepEqual([...got.keys()].sort(), [...names].sort());
    for (const [lwc, aura] of got) assert.equal(lwcName(aura), lwc);
  });
});

describe("the agent's view", () => {
  test("another agent's events are not delivered, but the resume point moves past them", async (t) => {
    const api = await client(t);
    const ben = await client(t, { agent: 'ben' });
    const anaSeen = [];
    const benSeen = [];
    const benCall = newCallId();
    const anaCall = newCallId();
    const ours = (fn) => (p) => [benCall, anaCall].includes(p.detail.callId) && fn(p);
    api.addTelephonyEventListener('CALL_CONNECTED', ours((p) => anaSeen.push(p.detail.callId)));
    ben.addTelephonyEventListener('CALL_CONNECTED', ours((p) => benSeen.push(p.detail.callId)));
    const last = await postAndWait(api, [connected(benCall, 'ben'), connected(anaCall, 'ana')]);
    await waitFor(() => ben.lastSeq >= last, 'ben to catch up');
    assert.deepEqual(anaSeen, [anaCall]);
    assert.deepEqual(benSeen, [benCall]);
    assert.equal(api.currentCall.callId, anaCall);
    assert.equal(ben.currentCall.callId, benCall);
  });

  test('a new client gets the calls in progress replayed, marked replayed, and acts on them', async (t) => {
    const callId = newCallId();
    const caller = '+1 415 555 0105';
    const third = '+1 415 555 0106';
    const posted = await server.post([
      { type: 'CALL_STARTED', agent: 'ana', detail: { callId, callType: 'inbound', participant: caller } },
      { type: 'CALL_CONNECTED', detail: { callId, callType: 'inbound', participant: caller } },
      { type: 'PARTICIPANT_ADDED', detail: { callId, participant: third } },
      { type: 'HOLD', detail: { callId, participant: caller } },
      { type: 'MUTE', detail: { callId } },
    ]);
    const api = await client(t);
    // Added right after connect(): the replay is handed over one task later.
    const replayed = [];
    for (const t of ['CALL_STARTED', 'CALL_CONNECTED', 'PARTICIPANT_ADDED', 'HOLD', 'MUTE']) {
      api.addTelephonyEventListener(t, (p) => {
        if (p.detail.callId === callId) replayed.push(p);
      });
    }
    await waitFor(() => replayed.length === 5, 'the replay of the call in progress');
    assert.deepEqual(replayed.map((p) => p.seq), posted.seqs);
    assert.ok(replayed.every((p) => p.replayed === true));
    assert.ok(api.lastSeq >= posted.seqs.at(-1), 'the replay ends with the resume point past it');

    const call = api.currentCall;
    assert.equal(call.callId, callId);
    assert.equal(call.state, 'connected');
    assert.equal(call.callType, 'inbound');
    assert.equal(call.participant, caller);
    assert.equal(call.muted, true);
    assert.deepEqual(
      call.participants.map((p) => [p.participant, p.role, p.onHold]),
      [
        [caller, 'initialCaller', true],
        [third, 'thirdParty', false],
      ],
    );
    assert.equal(api.getCurrentCall().callId, callId);
    assert.ok(api.calls.some((c) => c.callId === callId));
  });

  test('connect({after}) resumes after a seq: what follows is delivered live, not replayed', async (t) => {
    const callId = newCallId();
    const first = (await server.post(connected(callId, 'ana'))).seq;
    const rest = (await server.post([{ type: 'MUTE', detail: { callId } }, { type: 'UNMUTE', detail: { callId } }])).seqs;
    const api = await client(t, { after: first - 1 });
    const got = [];
    for (const t of ['CALL_CONNECTED', 'MUTE', 'UNMUTE']) {
      api.addTelephonyEventListener(t, only(callId, (p) => got.push(p)));
    }
    await waitFor(() => got.length >= 3, 'the resumed client to deliver the three events');
    assert.deepEqual(got.map((p) => p.seq), [first, ...rest]);
    assert.ok(got.every((p) => p.replayed === undefined));
    assert.equal(api.currentCall.callId, callId);
    assert.equal(api.currentCall.muted, false);
  });
});
