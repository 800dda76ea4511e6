/**
 * The outbox (runtime/outbox.ts): a file appears whole or not at all. A test reading a
 * webhook post from the outbox once parsed an empty file (it was listed while written).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { outboxDir, writeOutboxFile } from '../runtime/outbox.ts';

test('regression: a reader listing the outbox while files are written only ever reads whole files, and no partial file is left', async () => {
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'weir-outbox-'));
  const dir = outboxDir(home);
  const body = `${JSON.stringify({ webhook: 'ops', text: 'x'.repeat(2 * 1024 * 1024) })}\n`;
  let writing = true;
  let reads = 0;
  const reader = (async () => {
    while (writing) {
      for (const f of fs.existsSync(dir) ? fs.readdirSync(dir).filter((n) => n.endsWith('.json')) : []) {
        expect(fs.readFileSync(path.join(dir, f), 'utf8')).toBe(body);
        reads++;
      }
      await new Promise((r) => setImmediate(r));
    }
  })();
  await Promise.all(Array.from({ length: 20 }, (_, i) => writeOutboxFile(path.join(dir, `post-${i}.json`), body)));
  writing = false;
  await reader;
  expect(fs.readdirSync(dir).sort()).toEqual(Array.from({ length: 20 }, (_, i) => `post-${i}.json`).sort());
  expect(reads).toBeGreaterThan(0);
  fs.rmSync(home, { recursive: true, force: true });
});
