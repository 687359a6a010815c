import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { errorBody, errorCatalogue, errorCodes, rtmErrorCodes } from './errors.js';

const doc = readFileSync(new URL('../../../docs/errors.md', import.meta.url), 'utf8');

test('docs/errors.md lists exactly the catalogue, with the same statuses and meanings', () => {
  const catalogueSection = doc.split('## Exit codes')[0] as string;
  const rows = catalogueSection
    .split('\n')
    .map((line) => line.split('|').map((cell) => cell.trim()))
    .filter((cells) => /^`[a-z_]+`$/.test(cells[1] ?? ''))
    .map((cells) => ({
      code: (cells[1] as string).slice(1, -1),
      status: Number(cells[2]),
      rtm: cells[3] === 'yes',
      description: cells[4] as string,
    }));
  assert.deepEqual(
    rows.map((r) => r.code),
    errorCodes,
    'codes differ between docs/errors.md and errors.ts',
  );
  for (const row of rows) {
    const entry = errorCatalogue[row.code as keyof typeof errorCatalogue];
    assert.equal(row.status, entry.status, `status of ${row.code}`);
    assert.equal(row.description, entry.description, `meaning of ${row.code}`);
    assert.equal(row.rtm, 'rtm' in entry, `whether ${row.code} is an RTM code`);
  }
});

test('error bodies carry the code and message in the Graph error shape', () => {
  assert.deepEqual(errorBody('not_found', 'gone'), {
    error: { code: 'not_found', message: 'gone' },
  });
});

test('RTM error codes are the catalogue entries marked rtm, kwm codes among them', () => {
  for (const kwm of ['bad_message', 'access_restricted', 'create_restricted', 'server_error'])
    assert.ok(rtmErrorCodes.includes(kwm as never), kwm);
  assert.ok(rtmErrorCodes.includes('conference_full'));
  assert.ok(!rtmErrorCodes.includes('not_found' as never));
});
