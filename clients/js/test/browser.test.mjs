// The client in a real browser (Chromium, driven by playwright-core; the Debian package, never
// a download): the ES module loads as it is (no Node-only import), <voice-toolkit-api> works
// as a Salesforce component would use it, and publishAudioStats reads a real
// RTCPeerConnection's getStats() and feeds voicetk's AUDIO_STATS.
//
// The page is served on the voicetk server's own origin (its files answered by
// page.route under /__jsclient/), so the client's fetch and WebSocket are same-origin, as for
// the console the gateway serves.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, extname, join, normalize, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

import { connect } from '../src/index.js';
import { connected, startServer, waitFor } from '../testkit/server.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const CHROMIUM =
  process.env.CHROMIUM ?? ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => existsSync(p));

let server;
let browser;
let page;
/** What the page printed, for failure messages. */
const pageLog = [];

before(async () => {
  if (!CHROMIUM) {
    throw new Error('no Chromium: install the chromium package (scripts/setup does) or set CHROMIUM');
  }
  server = await startServer({ args: ['--audio-stats-interval', '1s'] });
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--no-sandbox',
      '--autoplay-policy=no-user-gesture-required',
      // Host candidates as plain IPs: two peer connections in one page connect over loopback.
      // And no Local Network Access checks: a page fulfilled by page.route has no address of
      // its own, so Chromium would treat its WebSocket to 127.0.0.1 as a public page reaching
      // into the local network (a page the gateway really serves is loopback itself).
      '--disable-features=WebRtcHideLocalIpsWithMdns,LocalNetworkAccessChecks,LocalNetworkAccessChecksWebSockets',
    ],
    timeout: 30_000,
  });
  page = await browser.newPage();
  page.setDefaultTimeout(15_000);
  page.on('console', (m) => pageLog.push(`console.${m.type()}: ${m.text()}`));
  page.on('pageerror', (e) => pageLog.push(`pageerror: ${e.message}`));
  await page.route(
    (url) => url.pathname.startsWith('/__jsclient/'),
    async (route) => {
      const path = new URL(route.request().url()).pathname.slice('/__jsclient/'.length);
      if (path === 'page.html') {
        await route.fulfill({ contentType: 'text/html', body: '<!doctype html><title>voicetk client</title><body></body>' });
        return;
      }
      const file = normalize(join(root, path));
      if (!file.startsWith(join(root, 'src'))) {
        await route.fulfill({ status: 404, body: 'not found' });
        return;
      }
      const type = extname(file) === '.js' ? 'text/javascript' : 'application/octet-stream';
      await route.fulfill({ contentType: type, body: await readFile(file) });
    },
  );
  await page.goto(`${server.url}/__jsclient/page.html`);
  await inPage(async () => {
    window.voicetk = await import('/__jsclient/src/index.js');
  });
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

/**
 * page.evaluate bounded in time (it has no timeout of its own); a failure carries what the
 * page logged.
 */
async function inPage(fn, arg, timeoutMs = 20_000) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`page.evaluate: no result within ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    return await Promise.race([page.evaluate(fn, arg), timeout]);
  } catch (e) {
    e.message += `\n--- page ---\n${pageLog.join('\n')}`;
    throw e;
  } finally {
    clearTimeout(timer);
  }
}

test('the module loads in the browser as it is and defines <voice-toolkit-api>', async () => {
  const info = await inPage(() => ({
    exports: Object.keys(window.voicetk).sort(),
    element: typeof customElements.get('voice-toolkit-api'),
  }));
  assert.ok(info.exports.includes('connect'));
  assert.equal(info.element, 'function');
});

test('<voice-toolkit-api>: LWC and Aura listeners, a throwing listener, actions', async () => {
  const state = await inPage(async () => {
    window.got = [];
    window.pageErrors = [];
    window.addEventListener('error', (e) => {
      window.pageErrors.push(e.error?.message ?? e.message);
      e.preventDefault();
    });
    // As a Salesforce LWC would, with the element looked up instead of
    // lightning-service-cloud-voice-toolkit-api. No url attribute: the page's origin.
    const el = document.createElement('voice-toolkit-api');
    el.setAttribute('agent', 'ana');
    el.addEventListener('callconnected', () => {
      throw new Error('element listener bug');
    });
    el.addEventListener('callconnected', (e) => {
      window.got.push(['lwc', e.type, e.detail.callId, e.payload.seq, e instanceof CustomEvent]);
    });
    el.addTelephonyEventListener('HOLD', (p) => window.got.push(['aura', p.type, p.detail.callId, p.seq]));
    el.addEventListener('HOLD', (e) => window.got.push(['lwc', e.type, e.detail.callId, e.payload.seq, true]));
    document.body.append(el);
    const api = await el.ready;
    window.el = el;
    return { state: el.state, telephony: el.telephony, same: api === el.api };
  });
  assert.deepEqual(state, { state: 'connected', telephony: 'partner', same: true });

  const { seqs } = await server.post([
    connected('browser-1', 'ana', '+1 415 555 0110'),
    { type: 'HOLD', detail: { callId: 'browser-1', participant: '+1 415 555 0110' } },
  ]);
  await inPage(async () => {
    while (window.got.length < 3) await new Promise((r) => setTimeout(r, 20));
  });
  const result = await inPage(() => ({
    got: window.got,
    pageErrors: window.pageErrors,
    current: window.el.currentCall?.callId,
  }));
  assert.deepEqual(result.got, [
    ['lwc', 'callconnected', 'browser-1', seqs[0], true],
    ['aura', 'HOLD', 'browser-1', seqs[1]],
    ['lwc', 'hold', 'browser-1', seqs[1], true],
  ]);
  assert.deepEqual(result.pageErrors, ['element listener bug'], 'the browser reported it; the others ran');
  assert.equal(result.current, 'browser-1');

  // An action: posted calls have no source, so the server's 501 comes back with its code.
  const refused = await inPage(() =>
    window.el.mute().then(
      () => null,
      (e) => ({ name: e.name, code: e.code, status: e.status }),
    ),
  );
  assert.deepEqual(refused, { name: 'VoicetkError', code: 'not_implemented', status: 501 });
  // The same on a given call with forCall: the server's answer for that call comes back.
  const perCall = await inPage(async () => {
    const outcome = (p) => p.then(() => null, (e) => ({ code: e.code, status: e.status }));
    const known = window.el.forCall('browser-1');
    return {
      callId: known.callId,
      known: await outcome(known.resume('Initial_Caller')),
      unknown: await outcome(window.el.forCall('browser-nope').mute()),
      bad: (() => {
        try {
          window.el.forCall('');
          return null;
        } catch (e) {
          return e instanceof TypeError;
        }
      })(),
    };
  });
  assert.deepEqual(perCall, {
    callId: 'browser-1',
    known: { code: 'not_implemented', status: 501 },
    unknown: { code: 'unknown_call', status: 404 },
    bad: true,
  });

  // Changing an attribute reconnects; the listeners move to the new connection.
  const switched = await inPage(async () => {
    const old = window.el.api;
    window.got.length = 0;
    window.el.setAttribute('agent', 'ben');
    const api = await window.el.ready;
    return { old: old.state, agent: api.agent, fresh: api !== old };
  });
  assert.deepEqual(switched, { old: 'closed', agent: 'ben', fresh: true });
  const ben = await server.post([
    connected('browser-ben', 'ben', '+1 415 555 0111'),
    { type: 'HOLD', detail: { callId: 'browser-ben', participant: '+1 415 555 0111' } },
  ]);
  await inPage(async () => {
    while (window.got.length < 3) await new Promise((r) => setTimeout(r, 20));
  });
  assert.deepEqual(await inPage(() => window.got), [
    ['lwc', 'callconnected', 'browser-ben', ben.seqs[0], true],
    ['aura', 'HOLD', 'browser-ben', ben.seqs[1]],
    ['lwc', 'hold', 'browser-ben', ben.seqs[1], true],
  ]);

  // Removing the element closes its connection.
  const closed = await inPage(() => {
    const api = window.el.api;
    window.el.remove();
    return api.state;
  });
  assert.equal(closed, 'closed');
});

test('publishAudioStats posts a real peer connection getStats() and voicetk makes AUDIO_STATS', async (t) => {
  // Two peer connections in the page, each sending a tone to the other over loopback.
  const report = await inPage(async () => {
    const ctx = new AudioContext();
    const tone = (hz) => {
      const osc = ctx.createOscillator();
      osc.frequency.value = hz;
      const dest = ctx.createMediaStreamDestination();
      osc.connect(dest);
      osc.start();
      return dest.stream;
    };
    const a = new RTCPeerConnection();
    const b = new RTCPeerConnection();
    a.onicecandidate = (e) => e.candidate && b.addIceCandidate(e.candidate);
    b.onicecandidate = (e) => e.candidate && a.addIceCandidate(e.candidate);
    const sa = tone(440);
    const sb = tone(660);
    a.addTrack(sa.getAudioTracks()[0], sa);
    b.addTrack(sb.getAudioTracks()[0], sb);
    await a.setLocalDescription(await a.createOffer());
    await b.setRemoteDescription(a.localDescription);
    await b.setLocalDescription(await b.createAnswer());
    await a.setRemoteDescription(b.localDescription);
    window.pc = a;
    window.pcPeer = b;
    // Wait (bounded by waitForFunction's timeout outside) for packets both ways and the
    // first receiver report.
    for (;;) {
      const body = window.voicetk.readAudioStats(await a.getStats());
      if (body?.inbound?.packetsReceived > 0 && body?.outbound?.packetsSent > 0 && body?.remoteInbound) return body;
      await new Promise((r) => setTimeout(r, 100));
    }
  });
  assert.ok(report.inbound.packetsReceived > 0);
  assert.ok(Number.isInteger(report.inbound.packetsLost));
  assert.ok(report.outbound.packetsSent > 0);
  assert.ok(typeof report.inbound.jitter === 'number' && report.inbound.jitter < 1, 'jitter in seconds');
  assert.ok(report.remoteInbound.roundTripTime === undefined || report.remoteInbound.roundTripTime < 1);

  // A listener in Node, on the same server, sees what the page's samples turn into.
  const api = await connect({ url: server.url, agent: 'ana' });
  t.after(() => api.close());
  const stats = [];
  api.addTelephonyEventListener('AUDIO_STATS', (p) => {
    if (p.detail.callId === 'webrtc-1') stats.push(p.detail);
  });
  await server.post(connected('webrtc-1', 'ana'));
  const errors = await inPage(async () => {
    window.publishErrors = [];
    const api = await window.voicetk.connect({ agent: 'ana' });
    api.addEventListener('error', (e) => {
      window.publishErrors.push(`${e.detail.error.code}: ${e.detail.error.message}`);
      e.preventDefault();
    });
    window.stopPublishing = api.publishAudioStats(window.pc, { callId: 'webrtc-1', intervalMs: 200 });
    window.publisher = api;
    return window.publishErrors;
  });
  assert.deepEqual(errors, []);
  try {
    await waitFor(
      () => stats.some((s) => s.stats === 'inputChannelStats') && stats.some((s) => s.stats === 'outputChannelStats'),
      'AUDIO_STATS for both channels of webrtc-1',
      15_000,
    );
  } catch (e) {
    const publishErrors = await inPage(() => window.publishErrors);
    e.message += `\npublish errors: ${JSON.stringify(publishErrors)}`;
    throw e;
  }
  const input = stats.find((s) => s.stats === 'inputChannelStats');
  assert.ok(input.packetsCount > 0, 'packets counted from the real stream');
  assert.ok(input.statsCount >= 1);
  assert.ok(Number.isInteger(input.jitterBufferMillis) && input.jitterBufferMillis >= 0);
  assert.deepEqual(await inPage(() => window.publishErrors), []);
  await inPage(async () => {
    window.stopPublishing();
    window.pc.close();
    window.pcPeer.close();
    await window.publisher.close();
  });
});
