// Builds the console and the browser bundle of the JS client into one directory:
//
//   node build.mjs OUT_DIR
//
//   OUT_DIR/voicetk.js    clients/js/src/index.js as one browser ES module (/client/voicetk.js)
//   OUT_DIR/console.js    the console app with its chart library (/console/console.js); it
//                         imports the client from /client/voicetk.js, the same bundle any page
//                         can load, so the console exercises exactly what users get
//   OUT_DIR/console.css   its styles (/console/console.css)
//   OUT_DIR/index.html    the page (/)
//
// The output is deterministic (no timestamps, no absolute paths, no source maps) so the
// gateway's build (crates/server/build.rs) is reproducible.
import { build } from 'esbuild';
import { copyFile, mkdir } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const out = process.argv[2];
if (!out) {
  console.error('usage: node build.mjs OUT_DIR');
  process.exit(2);
}
const outDir = resolve(out);
await mkdir(outDir, { recursive: true });

const common = {
  bundle: true,
  format: 'esm',
  platform: 'browser',
  target: ['es2022'],
  minify: true,
  legalComments: 'eof',
  charset: 'utf8',
  logLevel: 'warning',
  absWorkingDir: here,
};

try {
  await Promise.all([
    build({
      ...common,
      entryPoints: [join(here, '..', 'js', 'src', 'index.js')],
      outfile: join(outDir, 'voicetk.js'),
    }),
    build({
      ...common,
      entryPoints: { console: join(here, 'src', 'main.js') },
      outdir: outDir,
      // The client is the gateway's own /client/voicetk.js, loaded by the browser.
      external: ['/client/voicetk.js'],
    }),
    copyFile(join(here, 'index.html'), join(outDir, 'index.html')),
  ]);
} catch (e) {
  // esbuild has already printed its diagnostics; name the step that failed.
  console.error(`console build failed: ${e.message}`);
  process.exit(1);
}
