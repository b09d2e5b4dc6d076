// The TypeScript declarations (types/index.d.ts) compile and describe the API strictly:
// `tsc -p test/tsconfig.json` type-checks test/types-sample.ts, which uses every method and
// payload through the package's own name and holds `@ts-expect-error` lines that must fail.
// Also: the declarations list the same 15 types as the code.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

import { EVENT_TYPES, NATIVE_UNSUPPORTED, lwcName } from '../src/index.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

test('tsc --noEmit on the sample passes', { timeout: 120_000 }, async () => {
  const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
  try {
    await promisify(execFile)(process.execPath, [tsc, '-p', join(root, 'test', 'tsconfig.json')], {
      cwd: root,
      timeout: 110_000,
    });
  } catch (e) {
    assert.fail(`tsc failed:\n${e.stdout}${e.stderr}`);
  }
});

test('the declarations name the same 15 types, LWC names and Native gaps as the code', async () => {
  const dts = await readFile(join(root, 'types', 'index.d.ts'), 'utf8');
  const union = /export type TelephonyEventType =([^;]+);/.exec(dts)[1];
  assert.deepEqual([...union.matchAll(/'([A-Z_]+)'/g)].map((m) => m[1]), [...EVENT_TYPES]);
  const lwc = /export interface LwcNames \{([^}]+)\}/.exec(dts)[1];
  for (const t of EVENT_TYPES) assert.match(lwc, new RegExp(`${t}: '${lwcName(t)}';`));
  const native = /export type NativeUnsupportedType =([^;]+);/.exec(dts)[1];
  assert.deepEqual([...native.matchAll(/'([A-Z_]+)'/g)].map((m) => m[1]), [...NATIVE_UNSUPPORTED]);
});
