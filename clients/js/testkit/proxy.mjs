// A TCP relay between the client and a voicetk server, so a test can drop the client's
// connections (as a flaky network would) while the server keeps running, or refuse new ones
// for a while. Real sockets on 127.0.0.1 both ways; it does not look at the bytes.

import net from 'node:net';

/**
 * Starts a relay on 127.0.0.1:0 to 127.0.0.1:`upstreamPort`.
 * @param {number} upstreamPort
 */
export async function startProxy(upstreamPort) {
  const pairs = new Set();
  let blocked = false;
  let accepted = 0;
  const server = net.createServer((client) => {
    accepted += 1;
    if (blocked) {
      client.destroy();
      return;
    }
    const upstream = net.connect(upstreamPort, '127.0.0.1');
    const pair = { client, upstream };
    pairs.add(pair);
    const drop = () => {
      pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on('error', drop);
    upstream.on('error', drop);
    client.on('close', drop);
    upstream.on('close', drop);
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const port = server.address().port;
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    /** Connections accepted so far (including refused ones). */
    get accepted() {
      return accepted;
    },
    /** Connections currently relayed. */
    get open() {
      return pairs.size;
    },
    /** Drops every relayed connection at once (both sides reset). */
    cut() {
      for (const { client, upstream } of [...pairs]) {
        client.resetAndDestroy?.() ?? client.destroy();
        upstream.destroy();
      }
      pairs.clear();
    },
    /** Refuses new connections (accepts and closes them) until unblock(). */
    block() {
      blocked = true;
    },
    unblock() {
      blocked = false;
    },
    /** Stops listening and drops everything. */
    async close() {
      this.cut();
      await new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
