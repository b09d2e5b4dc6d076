// Tokens (CONTRACT.md §6): the client sends `Authorization: Bearer` on HTTP and
// `?access_token=` on the WebSocket; a wrong token fails connect() with the server's 401, and an
// agent-scoped token sees only its agent's calls.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';

import { connect } from '../src/index.js';
import { connected, startServer, tempDir, waitFor } from '../testkit/server.mjs';

const PUBLISHER = 'publisher-token-0123456789';
const ANA = 'ana-desktop-token-0123456789';
const WATCHER = 'watcher-token-0123456789abc';

let server;

before(async () => {
  const dir = await tempDir();
  const config = join(dir, 'voicetk.toml');
  await writeFile(
    config,
    `
[[auth.tokens]]
name = "publisher"
token = "${PUBLISHER}"
roles = ["publish", "admin"]

[[auth.tokens]]
name = "ana-desktop"
token = "${ANA}"
roles = ["subscribe", "control"]
agent = "ana"

[[auth.tokens]]
name = "watcher"
token = "${WATCHER}"
roles = ["publish"]
`,
  );
  server = await startServer({ args: ['--config', config] });
});

after(async () => {
  await server?.stop();
});

const publish = (payloads) => server.post(payloads, { authorization: `Bearer ${PUBLISHER}` });

test('a wrong token fails connect() with the server code and status', async () => {
  await assert.rejects(connect({ url: server.url, token: 'not-a-token-at-all-xx' }), (e) => {
    assert.equal(e.name, 'VoicetkError');
    assert.equal(e.status, 401);
    assert.equal(e.code, 'unauthorized');
    assert.match(e.message, /unknown bearer token/);
    return true;
  });
  await assert.rejects(connect({ url: server.url }), (e) => e.status === 401);
});

test('a token without the subscribe role fails with 403', async () => {
  await assert.rejects(connect({ url: server.url, token: WATCHER }), (e) => {
    assert.equal(e.status, 403);
    assert.equal(typeof e.code, 'string');
    return true;
  });
});

test("an agent-scoped token gets its agent's calls over the WebSocket, and acts with its token", async (t) => {
  const api = await connect({ url: server.url, token: ANA });
  t.after(() => api.close());
  const got = [];
  api.addTelephonyEventListener('CALL_CONNECTED', (p) => got.push(p.detail.callId));
  const { seqs } = await publish([connected('auth-ben', 'ben'), connected('auth-ana', 'ana')]);
  await waitFor(() => got.includes('auth-ana'), "ana's call");
  assert.deepEqual(got, ['auth-ana']);
  // The server filtered ben's event out (the client does too, but it never saw it).
  assert.equal(api.lastSeq, seqs[1]);
  // The action goes out with ana's token: the server answers 501 (posted calls have no
  // source), not 401/403.
  await assert.rejects(api.mute(), (e) => e.status === 501 && e.code === 'not_implemented');
});
