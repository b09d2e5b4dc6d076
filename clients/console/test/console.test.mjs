// The console in a real Chromium (Debian's, driven by playwright-core) against a real
// `voicetk serve` with simulated calls: the board, actions through the JS client, the
// timeline and its filters, the audio-quality charts, errors, tokens, a narrow screen, and no
// console errors anywhere.
//
//   node --test clients/console/test/
//
// VOICETK_BIN: the binary (default <repo>/target/debug/voicetk: `cargo build -p voicetk`).
// CHROMIUM: the browser (default /usr/bin/chromium). Without it the tests are skipped, except
// under CI=true where that is a failure. ARTIFACTS_DIR: where screenshots go (default a temp
// directory, printed).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = dirname(fileURLToPath(import.meta.url));
const repo = resolve(here, '..', '..', '..');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const VOICETK = process.env.VOICETK_BIN || join(repo, 'target', 'debug', 'voicetk');
const CI = process.env.CI === 'true';
const ARTIFACTS = process.env.ARTIFACTS_DIR || join(tmpdir(), 'voicetk-console-artifacts');

/** Longest wait for anything on the page or the server. */
const WAIT = 20_000;

// What must exist before the browser tests can run: each missing one is a failing test
// (naming the fix), except Chromium outside CI, whose absence skips them.
const missing = [];
if (!existsSync(CHROMIUM)) {
  if (CI) missing.push(`CI=true and no Chromium at ${CHROMIUM}: apt-get install chromium, or set CHROMIUM`);
}
if (!existsSync(VOICETK)) {
  missing.push(`no voicetk binary at ${VOICETK}: run \`cargo build -p voicetk --bin voicetk\` or set VOICETK_BIN`);
}
const skip = missing.length ? 'a prerequisite is missing (see the failing test)'
  : !existsSync(CHROMIUM) ? `no Chromium at ${CHROMIUM} (apt-get install chromium, or set CHROMIUM): browser tests skipped`
    : false;
if (skip) console.log(`# ${skip}`);
for (const why of missing) test(`prerequisite: ${why.split(':')[0]}`, () => assert.fail(why));

/** Calls that ring briefly, connect and then talk for an hour of simulated time. */
const TALK = `name = "console-talk"
description = "rings, connects, talks for long"
call_type = "inbound"
[[steps]]
event = "call-started"
[[steps]]
event = "call-connected"
delay = [1, 2]
[[steps]]
event = "talk"
delay = 3600
[[steps]]
event = "call-ended"
[[steps]]
event = "wrap-up-ended"
delay = 5
`;
/** Calls that keep ringing until someone answers or declines. */
const RING = `name = "console-ring"
description = "rings for an hour"
call_type = "inbound"
[[steps]]
event = "call-started"
[[steps]]
event = "call-connected"
delay = 3600
[[steps]]
event = "talk"
delay = 3600
[[steps]]
event = "call-ended"
`;

/** Rejects after `ms` with a message saying what did not happen. */
function within(ms, what, promise) {
  let timer;
  return Promise.race([
    promise,
    new Promise((_, reject) => { timer = setTimeout(() => reject(new Error(`${what}: nothing within ${ms} ms`)), ms); }),
  ]).finally(() => clearTimeout(timer));
}

/** Retries `check` (which throws while not yet true) every 200 ms, for at most WAIT ms. */
async function eventually(what, check) {
  const deadline = Date.now() + WAIT;
  for (;;) {
    try {
      return await check();
    } catch (e) {
      if (Date.now() > deadline) throw new Error(`${what}: not within ${WAIT} ms: ${e.message}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Starts `voicetk serve` on a free port; resolves once it printed its address. */
async function startServer(dir, args) {
  if (!existsSync(VOICETK)) {
    throw new Error(`no voicetk binary at ${VOICETK}: run \`cargo build -p voicetk --bin voicetk\` or set VOICETK_BIN`);
  }
  const child = spawn(VOICETK, ['serve', '--addr', '127.0.0.1:0', '--data', join(dir, 'data'), ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (b) => { stderr = (stderr + b).slice(-4000); });
  const exited = new Promise((res) => child.once('exit', (code, signal) => res({ code, signal })));
  const url = await within(30_000, 'voicetk serve printing its address', new Promise((res, reject) => {
    let out = '';
    child.stdout.on('data', (b) => {
      out += b;
      const m = /voicetk listening on (http:\/\/\S+)/.exec(out);
      if (m) res(m[1]);
    });
    exited.then(({ code, signal }) => reject(new Error(`voicetk serve exited (${code ?? signal}) before listening:\n${stderr}`)));
  }));
  return {
    url,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      try {
        await within(10_000, 'voicetk serve stopping', exited);
      } catch {
        child.kill('SIGKILL');
        await exited;
      }
    },
  };
}

async function api(server, method, path, body, token) {
  const headers = { 'content-type': 'application/json' };
  if (token) headers.authorization = `Bearer ${token}`;
  const res = await fetch(server.url + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  return { status: res.status, body: await res.json() };
}

/**
 * Opens a page that records every console error and uncaught exception; `watch(page, seen)`,
 * called before the page loads, may record more into `seen`.
 */
async function openPage(context, url, viewport = { width: 1400, height: 900 }, watch = null) {
  const page = await context.newPage();
  const seen = [];
  watch?.(page, seen);
  await page.setViewportSize(viewport);
  page.setDefaultTimeout(WAIT);
  const errors = [];
  page.on('console', (m) => { if (m.type() === 'error') errors.push(`console.error: ${m.text()}`); });
  page.on('pageerror', (e) => errors.push(`uncaught: ${e.message}`));
  await page.goto(url, { timeout: WAIT });
  return { page, errors, seen };
}

/** The JS client's action methods → the action names of CONTRACT §4 (`acceptCall` → `accept-call`). */
const kebab = (method) => method.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);

/**
 * Records, from now on, how the page acts on calls: in the page, every call of the JS
 * client's `forCall(callId).<action>()` and `startPreviewCall()` (wrappers that call the real
 * methods), with the client's current call at that moment; on the network, every action POST
 * (`/v1/calls/{id}/actions/{action}`) and dial (`POST /v1/calls`). `check()` asserts that
 * the two lists match one for one: no request but the client's. Needs a connected console.
 */
async function traceActions(page) {
  const posts = [];
  page.on('request', (r) => {
    if (r.method() !== 'POST') return;
    const path = new URL(r.url()).pathname;
    const m = /^\/v1\/calls\/([^/]+)\/actions\/([^/]+)$/.exec(path);
    if (m) posts.push(`${decodeURIComponent(m[1])} ${m[2]}`);
    else if (path === '/v1/calls') posts.push('- dial');
  });
  await page.waitForFunction(() => window.voicetkConsole?.gateway?.api?.state === 'connected');
  await page.evaluate(() => {
    const api = window.voicetkConsole.gateway.api;
    const log = (window.clientActions = []);
    const forCall = api.forCall.bind(api);
    api.forCall = (callId) => {
      const actions = forCall(callId);
      const traced = { callId: actions.callId };
      for (const method of ['mute', 'unmute', 'hold', 'resume', 'acceptCall', 'declineCall', 'endCall',
        'pauseRecording', 'resumeRecording', 'merge', 'swap', 'addParticipant', 'sendDigits']) {
        traced[method] = (...args) => {
          log.push({ callId, method, current: api.currentCall?.callId ?? null });
          return actions[method](...args);
        };
      }
      return Object.freeze(traced);
    };
    const dial = api.startPreviewCall.bind(api);
    api.startPreviewCall = (number) => {
      log.push({ callId: null, method: 'startPreviewCall', current: api.currentCall?.callId ?? null });
      return dial(number);
    };
  });
  return {
    /** What the page asked the client to do: [{callId, method, current}]. */
    calls: () => page.evaluate(() => window.clientActions),
    /** Asserts every action and dial request the page sent was the client's; returns the calls. */
    async check() {
      const calls = await page.evaluate(() => window.clientActions);
      const asked = calls.map((c) => (c.method === 'startPreviewCall' ? '- dial' : `${c.callId} ${kebab(c.method)}`));
      assert.deepEqual([...posts].sort(), asked.sort(), 'every action request comes from a client call');
      return calls;
    },
  };
}

/** The text of the rows the timeline shows: [{type, callId}]. */
const timelineRows = (page) => page.$$eval('#timeline > li', (lis) => lis.map((li) => ({ type: li.dataset.type, callId: li.dataset.callId })));

describe('the console in Chromium against voicetk serve', { skip }, () => {
  let dir;
  let server;
  let context;
  let page;
  let errors;
  /** How the main page acted on calls (traceActions). */
  let trace;
  /** Console errors a test provoked on purpose (an HTTP error status is logged by Chromium). */
  const expected = [];

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'voicetk-console-'));
    await mkdir(ARTIFACTS, { recursive: true });
    await writeFile(join(dir, 'talk.toml'), TALK);
    await writeFile(join(dir, 'ring.toml'), RING);
    server = await startServer(dir, [
      '--audio-stats-interval', '5s',
      '--source', `simulator:scenario=${join(dir, 'talk.toml')},speed=10,rate=2,calls=4,agents=ana|ben`,
      '--source', `simulator:scenario=${join(dir, 'ring.toml')},speed=10,rate=2,calls=2,agents=chloe`,
    ]);
    context = await chromium.launchPersistentContext(join(dir, 'profile'), {
      executablePath: CHROMIUM,
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
        '--disable-sync', '--no-first-run'],
      timeout: 30_000,
    });
    ({ page, errors } = await openPage(context, server.url + '/'));
    trace = await traceActions(page);
    console.log(`# voicetk at ${server.url}; screenshots in ${ARTIFACTS}`);
  });

  after(async () => {
    await context?.close().catch(() => {});
    await server?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test('the served assets have their content types and the page loads the client bundle', async () => {
    for (const [path, type] of [['/', 'text/html'], ['/console/console.js', 'text/javascript'],
      ['/console/console.css', 'text/css'], ['/client/voicetk.js', 'text/javascript']]) {
      const res = await fetch(server.url + path);
      assert.equal(res.status, 200, path);
      assert.ok(res.headers.get('content-type').startsWith(type), `${path}: ${res.headers.get('content-type')}`);
      assert.equal(res.headers.get('cache-control'), 'no-cache', path);
      const again = await fetch(server.url + path, { headers: { 'if-none-match': res.headers.get('etag') } });
      assert.equal(again.status, 304, `${path} revalidates`);
    }
    // The page imported /client/voicetk.js: the bundle every page can use.
    const loaded = await page.evaluate(() => performance.getEntriesByType('resource').map((e) => new URL(e.name).pathname));
    assert.ok(loaded.includes('/client/voicetk.js'), loaded.join(', '));
  });

  test('calls appear on the board with agent, participants, lifecycle and a ticking duration', async () => {
    await page.waitForFunction(() => document.querySelectorAll('.card[data-lifecycle="connected"]').length >= 3
      && document.querySelectorAll('.card[data-lifecycle="started"]').length >= 1, null, { timeout: WAIT });
    await page.waitForSelector('#conn[data-state="live"]');
    const { body } = await api(server, 'GET', '/v1/calls');
    assert.ok(body.calls.length >= 4, JSON.stringify(body));
    for (const call of body.calls) {
      const card = page.locator(`.card[data-call-id="${call.callId}"]`);
      await card.waitFor();
      assert.equal(await card.getAttribute('data-agent'), call.agent);
      const text = await card.innerText();
      assert.ok(text.includes(call.participants[0].participant), text);
      assert.ok(text.includes(call.agent), text);
    }
    const ringing = page.locator('.card[data-lifecycle="started"]').first();
    assert.match(await ringing.innerText(), /Ringing/);
    assert.equal(await ringing.locator('button[data-action="accept-call"]').count(), 1);
    const clock = page.locator('.card[data-lifecycle="connected"] [data-role="duration"]').first();
    const first = await clock.innerText();
    assert.match(first, /^\d+:\d\d$/);
    await page.waitForFunction((el) => el.textContent !== el.dataset.seen, await clock.evaluateHandle((el) => {
      el.dataset.seen = el.textContent;
      return el;
    }), { timeout: 5_000 });
  });

  test('hold on a connected call shows HOLD on the card and in the timeline, and resume undoes it', async () => {
    const card = page.locator('.card[data-lifecycle="connected"][data-agent="ana"]').first();
    const callId = await card.getAttribute('data-call-id');
    const caller = card.locator('li.participant').first();
    assert.equal(await caller.getAttribute('data-on-hold'), 'false');
    await caller.locator('button[data-action="hold"]').click();
    await page.locator(`.card[data-call-id="${callId}"] li.participant[data-on-hold="true"]`).waitFor();
    assert.match(await card.locator('li.participant').first().innerText(), /On hold/);
    await page.locator(`#timeline > li[data-type="HOLD"][data-call-id="${callId}"]`).waitFor();
    const state = await api(server, 'GET', `/v1/calls/${callId}`);
    assert.equal(state.body.call.participants[0].onHold, true, 'the gateway agrees');
    assert.equal(await page.locator('#kpi-hold').innerText(), '1');

    await card.locator('li.participant button[data-action="resume"]').click();
    await page.locator(`.card[data-call-id="${callId}"] li.participant[data-on-hold="false"]`).waitFor();
    await page.locator(`#timeline > li[data-type="RESUME"][data-call-id="${callId}"]`).waitFor();
  });

  test('mute, recording, add participant, swap and merge act on the call and show their state', async () => {
    const card = page.locator('.card[data-lifecycle="connected"][data-agent="ben"]').first();
    const callId = await card.getAttribute('data-call-id');
    const sel = `.card[data-call-id="${callId}"]`;
    await card.locator('button[data-action="mute"]').click();
    await page.locator(`${sel} [data-role="muted"]`).waitFor();
    await page.locator(`#timeline > li[data-type="MUTE"][data-call-id="${callId}"]`).waitFor();
    await card.locator('button[data-action="unmute"]').click();
    await page.locator(`${sel} [data-role="muted"]`).waitFor({ state: 'detached' });

    await card.locator('button[data-action="pause-recording"]').click();
    await page.locator(`${sel} [data-role="recording"]:has-text("Recording paused")`).waitFor();
    await card.locator('button[data-action="resume-recording"]').click();
    await page.locator(`${sel} button[data-action="pause-recording"]`).waitFor();

    await card.locator('button[data-action="open-add"]').click();
    await card.locator('input[name="contactValue"]').fill('+1 415 555 0142');
    await card.locator('form[data-form="add-participant"] button[type="submit"]').click();
    await page.locator(`${sel} li.participant[data-participant="+1 415 555 0142"]`).waitFor();
    await page.locator(`#timeline > li[data-type="PARTICIPANT_ADDED"][data-call-id="${callId}"]`).waitFor();
    assert.equal(await card.locator('form[data-form="add-participant"]').count(), 0, 'the form closes once added');

    await card.locator('li.participant').first().locator('button[data-action="hold"]').click();
    await page.locator(`${sel} li.participant[data-on-hold="true"]`).waitFor();
    await card.locator('button[data-action="swap"]').click();
    await page.locator(`#timeline > li[data-type="SWAP"][data-call-id="${callId}"]`).waitFor();
    await page.waitForFunction((s) => {
      const holds = [...document.querySelectorAll(`${s} li.participant`)].map((li) => li.dataset.onHold);
      return holds.join() === 'false,true';
    }, sel);
    await card.locator('button[data-action="merge"]').click();
    await page.locator(`#timeline > li[data-type="CONFERENCE"][data-call-id="${callId}"]`).waitFor();
    await page.waitForFunction((s) => [...document.querySelectorAll(`${s} li.participant`)]
      .every((li) => li.dataset.onHold === 'false'), sel);
    const state = await api(server, 'GET', `/v1/calls/${callId}`);
    assert.deepEqual(state.body.call.participants.map((p) => [p.participant, p.onHold]).slice(1),
      [['+1 415 555 0142', false]]);
    assert.equal(await page.locator(`${sel} .card-error`).innerText(), '');
  });

  test('a ringing call can be accepted, another declined', async () => {
    const ringing = page.locator('.card[data-lifecycle="started"][data-agent="chloe"]');
    await ringing.nth(1).waitFor();
    const accept = await ringing.first().getAttribute('data-call-id');
    await ringing.first().locator('button[data-action="accept-call"]').click();
    await page.locator(`.card[data-call-id="${accept}"][data-lifecycle="connected"]`).waitFor();
    await page.locator(`#timeline > li[data-type="CALL_CONNECTED"][data-call-id="${accept}"]`).waitFor();
    const decline = await page.locator('.card[data-lifecycle="started"][data-agent="chloe"]').first().getAttribute('data-call-id');
    await page.locator(`.card[data-call-id="${decline}"] button[data-action="decline-call"]`).click();
    await page.locator(`.card[data-call-id="${decline}"][data-lifecycle="ended"]`).waitFor();
    await page.locator(`#timeline > li[data-type="CALL_ENDED"][data-call-id="${decline}"]`).waitFor();
  });

  test('dialing places a call that appears on the board', async () => {
    await page.locator('#dial-number').fill('+1 415 555 0199');
    await page.locator('#dial button[type="submit"]').click();
    await page.locator('.card li.participant[data-participant="+1 415 555 0199"]').waitFor();
    await page.locator('.toast[role="status"]:has-text("Dialing")').waitFor();
    assert.equal(await page.locator('#dial-number').inputValue(), '', 'the number is cleared once placed');
    // The dialed call is now the client's current call; acting on it goes through the client
    // too, like every other action.
    const card = page.locator('.card', { has: page.locator('li.participant[data-participant="+1 415 555 0199"]') });
    const callId = await card.getAttribute('data-call-id');
    assert.equal(await page.evaluate(() => window.voicetkConsole.gateway.api.currentCall?.callId), callId);
    await page.locator(`.card[data-call-id="${callId}"][data-lifecycle="connected"] button[data-action="mute"]`).click();
    await page.locator(`.card[data-call-id="${callId}"] [data-role="muted"]`).waitFor();
    const calls = await trace.check();
    assert.deepEqual(calls.slice(-2).map((c) => [c.callId, c.method]), [[null, 'startPreviewCall'], [callId, 'mute']]);
  });

  test('every action so far went through the JS client, most of them on calls that were not its current call', async () => {
    const calls = await trace.check();
    const methods = new Set(calls.map((c) => c.method));
    for (const m of ['hold', 'resume', 'mute', 'unmute', 'pauseRecording', 'resumeRecording', 'addParticipant',
      'swap', 'merge', 'acceptCall', 'declineCall', 'startPreviewCall']) {
      assert.ok(methods.has(m), `${m} in ${[...methods].join(', ')}`);
    }
    const others = calls.filter((c) => c.callId !== null && c.callId !== c.current);
    assert.ok(others.length >= 5, JSON.stringify(calls));
  });

  test('the audio-quality charts plot the call\'s AUDIO_STATS: MOS, loss, jitter and RTT', async () => {
    const card = page.locator('.card[data-lifecycle="connected"][data-agent="ana"]').first();
    const callId = await card.getAttribute('data-call-id');
    await card.locator('.card-title').click();
    assert.equal(await page.locator('#quality-call').inputValue(), callId);
    await page.waitForFunction(() => {
      const c = window.voicetkConsole.charts;
      return ['mos', 'loss', 'jitter', 'rtt'].every((k) => c[k].data.datasets.every((d) => d.data.length >= 2));
    }, null, { timeout: WAIT });
    const plotted = await page.evaluate(() => Object.fromEntries(Object.entries(window.voicetkConsole.charts)
      .map(([k, c]) => [k, c.data.datasets.map((d) => d.data.map((p) => ({ x: p.x, y: p.y })))])));
    // Every point is one of the call's AUDIO_STATS, as the gateway stored it.
    const { body } = await api(server, 'GET', `/v1/calls/${callId}`);
    const stats = body.events.filter((e) => e.type === 'AUDIO_STATS');
    const byChannel = (name) => stats.filter((e) => e.detail.stats === name);
    for (const [i, name] of [[0, 'inputChannelStats'], [1, 'outputChannelStats']]) {
      const events = byChannel(name);
      for (const p of plotted.mos[i]) {
        assert.ok(events.some((e) => Date.parse(e.timestamp) === p.x && e.detail.mos === p.y), `MOS point ${JSON.stringify(p)} of ${name}`);
        assert.ok(p.y >= 1 && p.y <= 4.5);
      }
      for (const p of plotted.jitter[i]) {
        assert.ok(events.some((e) => Date.parse(e.timestamp) === p.x && e.detail.jitterBufferMillis === p.y), `jitter ${JSON.stringify(p)}`);
      }
      for (const p of plotted.rtt[i]) {
        assert.ok(events.some((e) => Date.parse(e.timestamp) === p.x && e.detail.roundTripTimeMillis === p.y), `RTT ${JSON.stringify(p)}`);
      }
      for (const p of plotted.loss[i]) assert.ok(p.y >= 0 && p.y <= 100, `loss ${p.y}`);
    }
    // And the canvas has been drawn on.
    const inked = await page.$eval('#chart-mos', (canvas) => {
      const { data } = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height);
      let n = 0;
      for (let i = 3; i < data.length; i += 4) if (data[i] !== 0) n++;
      return n;
    });
    assert.ok(inked > 500, `pixels drawn: ${inked}`);
    assert.equal(await page.locator('#quality-empty').isHidden(), true);
  });

  test('the timeline filters by event type, by call and by text', async () => {
    await page.locator('#types summary').click();
    await page.locator('#type-filters button[data-type="*none"]').click();
    assert.equal((await timelineRows(page)).length, 0);
    await page.locator('#type-filters button[data-type="HOLD"]').click();
    await page.locator('#type-filters button[data-type="RESUME"]').click();
    let rows = await timelineRows(page);
    assert.ok(rows.length >= 2, JSON.stringify(rows));
    assert.ok(rows.every((r) => r.type === 'HOLD' || r.type === 'RESUME'), JSON.stringify(rows));
    assert.equal(await page.locator('#type-filters button[data-type="HOLD"]').getAttribute('aria-pressed'), 'true');
    assert.equal(await page.locator('#types-summary').innerText(), '2 of 15: HOLD, RESUME');

    await page.locator('#type-filters button[data-type="*all"]').click();
    const callId = await page.locator('.card[data-lifecycle="connected"][data-agent="ben"]').first().getAttribute('data-call-id');
    await page.locator('#timeline-call').selectOption(callId);
    rows = await timelineRows(page);
    assert.ok(rows.length >= 5, JSON.stringify(rows));
    assert.ok(rows.every((r) => r.callId === callId), JSON.stringify(rows));
    assert.ok(rows.some((r) => r.type === 'MUTE'));

    await page.locator('#timeline-search').fill('+1 415 555 0142');
    rows = await timelineRows(page);
    assert.deepEqual([...new Set(rows.map((r) => r.type))].sort(), ['PARTICIPANT_ADDED']);
    await page.locator('#timeline-search').fill('');
    await page.locator('#timeline-call').selectOption('');
    // A row opens to its payload.
    await page.locator('#timeline > li .type').first().click();
    const json = JSON.parse(await page.locator('#timeline > li pre').first().innerText());
    assert.equal(typeof json.seq, 'number');
    assert.ok(json.detail.callId);
  });

  test('an action the gateway refuses shows its status, code and message on the card', async () => {
    const posted = await api(server, 'POST', '/v1/events', {
      type: 'CALL_CONNECTED', agent: 'dora',
      detail: { callId: 'console-orphan-1', callType: 'inbound', participant: '+1 212 555 0111' },
    });
    assert.equal(posted.status, 202, JSON.stringify(posted.body));
    const card = page.locator('.card[data-call-id="console-orphan-1"]');
    await card.waitFor();
    expected.push(/status of 501/);
    await card.locator('button[data-action="hold"]').click();
    const error = card.locator('.card-error');
    await page.waitForFunction(() => document.querySelector('.card[data-call-id="console-orphan-1"] .card-error')?.textContent.includes('501'));
    const text = await error.innerText();
    assert.match(text, /hold failed: 501 not_implemented: no source can act on call/);
    await page.locator('.toast[role="alert"]:has-text("not_implemented")').waitFor();
    assert.equal(await card.locator('li.participant').first().getAttribute('data-on-hold'), 'false');
    // The refusal is the client's VoicetkError, from the client's request.
    const calls = await trace.check();
    assert.deepEqual([calls.at(-1).callId, calls.at(-1).method], ['console-orphan-1', 'hold']);
  });

  test('a call the gateway does not know: the console\'s action path rejects with the client\'s 404 unknown_call', async () => {
    // What a card's button would do for a call the gateway no longer has (its actions path).
    expected.push(/status of 404/);
    const refused = await page.evaluate(() => window.voicetkConsole.gateway.act('console-never-was', 'mute')
      .then(() => null, (e) => ({ name: e.name, code: e.code, status: e.status })));
    assert.deepEqual(refused, { name: 'VoicetkError', code: 'unknown_call', status: 404 });
    const calls = await trace.check();
    assert.deepEqual([calls.at(-1).callId, calls.at(-1).method], ['console-never-was', 'mute']);
    assert.notEqual(calls.at(-1).current, 'console-never-was');
  });

  test('a new tab sees the calls in progress: the replay, marked as such, and the same board', async () => {
    const second = await openPage(context, server.url + '/');
    await second.page.locator('#timeline > li.replayed').first().waitFor();
    const replayed = await second.page.$$eval('#timeline > li.replayed', (lis) => lis.map((li) => li.dataset.type));
    assert.ok(replayed.includes('CALL_CONNECTED'), replayed.join());
    const ids = (p) => p.$$eval('.card', (cs) => cs.map((c) => `${c.dataset.callId}:${c.dataset.lifecycle}`).sort().join());
    await eventually('both tabs show the same calls in the same states', async () => {
      const [a, b] = [await ids(page), await ids(second.page)];
      assert.equal(b, a);
    });
    assert.deepEqual(second.errors, []);
    await second.page.close();
  });

  test('a narrow screen stacks the panels without sideways scrolling', async () => {
    await page.screenshot({ path: join(ARTIFACTS, 'console-wide.png') });
    await page.setViewportSize({ width: 420, height: 900 });
    await page.waitForFunction(() => document.documentElement.scrollWidth <= window.innerWidth);
    const boxes = await page.$$eval('.panel', (ps) => ps.map((p) => p.getBoundingClientRect().toJSON()));
    assert.ok(boxes.every((b) => b.width <= 420 && b.x >= 0), JSON.stringify(boxes));
    assert.ok(boxes[1].y > boxes[0].y && boxes[2].y > boxes[1].y, 'one column');
    await page.screenshot({ path: join(ARTIFACTS, 'console-narrow.png'), fullPage: true });
    await page.setViewportSize({ width: 1400, height: 900 });
  });

  test('a token in ?token= reaches the gateway, over HTTP and the WebSocket', async () => {
    const tokenDir = join(dir, 'auth');
    await mkdir(tokenDir, { recursive: true });
    const token = 'console-test-token-0123456789';
    await writeFile(join(tokenDir, 'voicetk.toml'), `[[auth.tokens]]
name = "console"
token = "${token}"
roles = ["subscribe", "control"]
`);
    const secured = await startServer(tokenDir, ['--config', join(tokenDir, 'voicetk.toml'),
      '--source', `simulator:scenario=${join(dir, 'talk.toml')},speed=10,rate=2,calls=1,agents=erin`]);
    try {
      const denied = await api(secured, 'GET', '/v1/calls');
      assert.equal(denied.status, 401);
      const ok = await openPage(context, `${secured.url}/?token=${token}`);
      await ok.page.locator('.card[data-agent="erin"]').waitFor();
      await ok.page.waitForSelector('#conn[data-state="live"]');
      // The token left the address bar (history, copied links) but survives a reload.
      assert.equal(new URL(ok.page.url()).search, '');
      await ok.page.reload();
      await ok.page.locator('.card[data-agent="erin"]').waitFor();
      await ok.page.waitForSelector('#conn[data-state="live"]');
      const okTrace = await traceActions(ok.page);
      const callId = await ok.page.locator('.card[data-agent="erin"]').getAttribute('data-call-id');
      await ok.page.locator(`.card[data-call-id="${callId}"][data-lifecycle="connected"] button[data-action="mute"]`).click();
      await ok.page.locator(`.card[data-call-id="${callId}"] [data-role="muted"]`).waitFor();
      // The client carried the action out, with the token.
      assert.deepEqual((await okTrace.check()).map((c) => [c.callId, c.method]), [[callId, 'mute']]);
      assert.deepEqual(ok.errors, []);
      await ok.page.close();

      const none = await openPage(context, `${secured.url}/`);
      await none.page.locator('.toast[role="alert"]:has-text("401")').waitFor();
      assert.ok(none.errors.length > 0 && none.errors.every((e) => /status of 401/.test(e)), none.errors.join('\n'));
      await none.page.close();
    } finally {
      await secured.stop();
    }
  });

  test('Native telephony: no CALL_STARTED, SWAP, WRAP_UP_ENDED or AUDIO_STATS, and no errors either', async () => {
    const nativeDir = join(dir, 'native');
    await mkdir(nativeDir, { recursive: true });
    const native = await startServer(nativeDir, ['--telephony', 'native',
      '--source', `simulator:scenario=${join(dir, 'talk.toml')},speed=10,rate=2,calls=2,agents=fay`]);
    try {
      // Every answer the page gets, to show that nothing was refused.
      const n = await openPage(context, `${native.url}/`, undefined, (page, seen) => page.on('response', (r) => {
        seen.push(`${r.status()} ${r.request().method()} ${new URL(r.url()).pathname}${new URL(r.url()).search}`);
      }));
      await n.page.locator('.card[data-agent="fay"][data-lifecycle="connected"]').first().waitFor();
      await n.page.waitForSelector('#conn[data-state="live"]');
      const nTrace = await traceActions(n.page);
      await n.page.locator('.card[data-agent="fay"] button[data-action="hold"]').first().click();
      await n.page.locator('#timeline > li[data-type="HOLD"]').waitFor();
      assert.deepEqual((await nTrace.check()).map((c) => c.method), ['hold']);
      const types = new Set((await timelineRows(n.page)).map((r) => r.type));
      for (const t of ['CALL_STARTED', 'SWAP', 'WRAP_UP_ENDED', 'AUDIO_STATS']) assert.ok(!types.has(t), t);
      assert.equal(await n.page.locator('#quality-empty').isVisible(), true);
      assert.equal(await n.page.evaluate(() => window.voicetkConsole.gateway.api.telephony), 'native');
      // The client learned the telephony from /healthz: no CALL_STARTED probe, no 422.
      assert.ok(n.seen.some((a) => /^200 GET \/healthz$/.test(a)), n.seen.join('\n'));
      assert.deepEqual(n.seen.filter((a) => /types=CALL_STARTED/.test(a) || !/^(200|304) /.test(a)), []);
      // And not a single console error or uncaught exception.
      assert.deepEqual(n.errors, []);
      await n.page.close();
    } finally {
      await native.stop();
    }
  });

  test('no console errors or uncaught exceptions beyond the provoked ones', async () => {
    await page.screenshot({ path: join(ARTIFACTS, 'console-final.png') });
    const unexpected = errors.filter((e) => !expected.some((re) => re.test(e)));
    assert.deepEqual(unexpected, []);
  });
});
