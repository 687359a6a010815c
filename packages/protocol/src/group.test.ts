import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isGroupId } from './group.js';

test('room names: lowercase segments of letters, digits, - _ and ., never . or .. alone', () => {
  for (const ok of [
    'group/team',
    'group/public/demo',
    'group/a.b',
    'group/..x',
    'group/x../y',
    'group/v1.2_-',
  ])
    assert.equal(isGroupId(ok), true, ok);
  for (const bad of [
    'group/..',
    'group/.',
    'group/public/..',
    'group/public/../private',
    'group/./x',
    'group/x/.',
    'group/',
    'group/a//b',
    'group/Team',
    'group/a b',
    `group/${'a'.repeat(65)}`,
    'other/x',
  ])
    assert.equal(isGroupId(bad), false, bad);
});
