// Starts a real `voicetk serve` for the tests, on 127.0.0.1, with its own data directory, and
// stops it (and removes the directory) afterwards. Kept out of test/ so node's test runner
// does not run it as a test file.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { existsSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));

/** The repository root. */
export const REPO = resolve(here, '..', '..', '..');

/** The voicetk binary: $VOICETK_BIN, default target/debug/voicetk. */
export const BIN = process.env.VOICETK_BIN ?? join(REPO, 'target', 'debug', 'voicetk');

/** Every server still running, killed if the test process exits without stopping them. */
const running = new Set();
/** Every temporary directory made, removed when the test process exits. */
const temps = new Set();
process.on('exit', () => {
  for (const s of running) {
    try {
      process.kill(s.proc.pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
  }
  for (const dir of temps) rmSync(dir, { recursive: true, force: true });
});

/** A fresh temporary directory, removed when the test process exits. */
export async function tempDir(prefix = 'voicetk-js-') {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  temps.add(dir);
  return dir;
}

/** Writes a scenario file (see crates/sources/src/simulator/scenario.rs) and returns its path. */
export async function writeScenario(dir, name, toml) {
  const path = join(dir, `${name}.toml`);
  await writeFile(path, toml);
  return path;
}

/** A call that rings for an hour unless someone acts on it, then talks for an hour. */
export const LONG_RING = `
name = "long-ring"
description = "Rings for an hour unless answered or declined; then talks for an hour"
call_type = "inbound"

[[steps]]
event = "call-started"

[[steps]]
event = "call-connected"
delay = 3600

[[steps]]
event = "call-ended"
delay = 3600
`;

/**
 * Starts `voicetk serve --addr ADDR --data DIR ARGS...` and resolves once it prints its
 * address. `addr` defaults to 127.0.0.1:0; pass a previous server's `addr` and `data` to
 * restart it in place.
 * @param {{args?: string[], addr?: string, data?: string, timeoutMs?: number}} [options]
 */
export async function startServer(options = {}) {
  if (!existsSync(BIN)) {
    throw new Error(`no voicetk binary at ${BIN}: run \`cargo build -p voicetk --bin voicetk\` or set VOICETK_BIN`);
  }
  const data = options.data ?? (await tempDir());
  const ownsData = options.data === undefined;
  const addr = options.addr ?? '127.0.0.1:0';
  const timeoutMs = options.timeoutMs ?? 20_000;
  // A port just freed by a killed server can take a moment to be bindable again.
  for (let attempt = 0; ; attempt++) {
    try {
      return await spawnServer(addr, data, options.args ?? [], timeoutMs, ownsData);
    } catch (e) {
      if (attempt < 20 && /in use|AddrInUse/i.test(e.message)) {
        await sleep(100);
        continue;
      }
      throw e;
    }
  }
}

function spawnServer(addr, data, args, timeoutMs, ownsData) {
  const argv = ['serve', '--addr', addr, '--data', data, ...args];
  const proc = spawn(BIN, argv, {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, RUST_LOG: process.env.RUST_LOG ?? 'warn' },
  });
  let stderr = '';
  proc.stderr.setEncoding('utf8');
  proc.stderr.on('data', (chunk) => {
    stderr = (stderr + chunk).slice(-20_000);
  });
  proc.stdout.setEncoding('utf8');
  return new Promise((resolvePromise, reject) => {
    let out = '';
    const fail = (why) => {
      clearTimeout(timer);
      try {
        process.kill(proc.pid, 'SIGKILL');
      } catch {
        // Already gone.
      }
      reject(new Error(`voicetk ${argv.join(' ')}: ${why}\n--- stderr ---\n${stderr}`));
    };
    const timer = setTimeout(() => fail(`did not print its address within ${timeoutMs} ms`), timeoutMs);
    const onData = (chunk) => {
      out += chunk;
      const m = /voicetk listening on (http:\/\/\S+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        proc.stdout.off('data', onData);
        proc.stdout.resume(); // keep draining
        proc.off('exit', onExit);
        const server = new VoicetkServer(proc, m[1], data, ownsData, () => stderr);
        running.add(server);
        resolvePromise(server);
      }
    };
    const onExit = (code, signal) => setTimeout(() => fail(`exited (${code ?? signal}) before listening`), 50);
    proc.stdout.on('data', onData);
    proc.once('exit', onExit);
  });
}

/** A running voicetk server. */
export class VoicetkServer {
  constructor(proc, url, data, ownsData, stderr) {
    this.proc = proc;
    /** `http://127.0.0.1:PORT` */
    this.url = url;
    /** `127.0.0.1:PORT`, to restart on the same port. */
    this.addr = new URL(url).host;
    /** The data directory, to restart on the same log. */
    this.data = data;
    this.port = Number(new URL(url).port);
    this.ownsData = ownsData;
    this.stderr = stderr;
    this.exited = new Promise((r) => proc.once('exit', (code, signal) => r({ code, signal })));
  }

  /** Kills the process with `signal` and waits for it to exit (bounded). */
  async kill(signal = 'SIGKILL') {
    running.delete(this);
    if (this.proc.exitCode !== null || this.proc.signalCode !== null) return;
    this.proc.kill(signal);
    let timer;
    const late = new Promise((r) => {
      timer = setTimeout(() => r(null), 10_000);
    });
    const done = await Promise.race([this.exited, late]);
    clearTimeout(timer);
    if (done === null) {
      this.proc.kill('SIGKILL');
      await this.exited;
    }
  }

  /** Stops the server (SIGTERM, graceful) and removes the data directory it made. */
  async stop() {
    await this.kill('SIGTERM');
    if (this.ownsData) await rm(this.data, { recursive: true, force: true });
  }

  /** POSTs one payload or an array of payloads to /v1/events; returns the JSON answer. */
  async post(events, headers = {}) {
    return this.request('POST', '/v1/events', events, headers);
  }

  /** Any request; resolves with the parsed JSON, or throws an Error with the status and body. */
  async request(method, path, body, headers = {}) {
    const res = await fetch(this.url + path, {
      method,
      headers: { 'content-type': 'application/json', ...headers },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(15_000),
    });
    const text = await res.text();
    if (!res.ok) {
      const err = new Error(`${method} ${path}: HTTP ${res.status}: ${text}`);
      err.status = res.status;
      err.body = text;
      throw err;
    }
    return text === '' ? null : JSON.parse(text);
  }

  /** GET /healthz's lastSeq. */
  async lastSeq() {
    return (await this.request('GET', '/healthz')).lastSeq;
  }

  /** A metric's value from /metrics (the first line starting with `name`), or null. */
  async metric(name) {
    const res = await fetch(`${this.url}/metrics`, { signal: AbortSignal.timeout(15_000) });
    const text = await res.text();
    const line = text.split('\n').find((l) => l.startsWith(name + ' '));
    return line === undefined ? null : Number(line.slice(name.length + 1));
  }
}

/** Resolves after `ms`. */
export function sleep(ms) {
  return new Promise((r) => setTimeout(r, ms));
}

/**
 * Polls `check` until it returns a truthy value (returned), or throws after `timeoutMs`
 * naming `what`. Every wait in the tests is bounded by one of these.
 */
export async function waitFor(check, what, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(10);
  }
}

/** Resolves with the next `name` event of `target` (bounded). */
export function nextEvent(target, name, timeoutMs = 10_000) {
  return new Promise((resolvePromise, reject) => {
    const timer = setTimeout(() => {
      target.removeEventListener(name, on);
      reject(new Error(`timed out after ${timeoutMs} ms waiting for a "${name}" event`));
    }, timeoutMs);
    const on = (e) => {
      clearTimeout(timer);
      target.removeEventListener(name, on);
      resolvePromise(e);
    };
    target.addEventListener(name, on);
  });
}

/** A CALL_CONNECTED payload that opens call `callId` for `agent`. */
export function connected(callId, agent, participant = '+1 415 555 0100') {
  return {
    type: 'CALL_CONNECTED',
    agent,
    detail: { callId, callType: 'inbound', participant },
  };
}

/** Asserts that `promise` rejects with the client's VoicetkError of `status` and `code`
 * (and a message matching `message`, when given). */
export function rejectsWith(promise, status, code, message) {
  return assert.rejects(promise, (e) => {
    assert.equal(e.name, 'VoicetkError');
    assert.equal(e.status, status);
    assert.equal(e.code, code);
    if (message) assert.match(e.message, message);
    return true;
  });
}
