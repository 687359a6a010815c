import assert from 'node:assert/strict';
import { test } from 'node:test';
import { linkify } from './linkify.js';

test('http and https addresses become links, without the sentence’s punctuation', () => {
  assert.deepEqual(linkify('see https://example.org/a?b=1, and http://x.test.'), [
    { text: 'see ' },
    { text: 'https://example.org/a?b=1', href: 'https://example.org/a?b=1' },
    { text: ', and ' },
    { text: 'http://x.test', href: 'http://x.test/' },
    { text: '.' },
  ]);
});

test('javascript:, data: and markup stay text', () => {
  const message =
    'click javascript:alert(1) or data:text/html,<b>x</b> <img src=x onerror=alert(1)>';
  assert.deepEqual(linkify(message), [{ text: message }]);
  assert.deepEqual(linkify('<script>alert(1)</script>'), [{ text: '<script>alert(1)</script>' }]);
});

test('a link with a quote or angle bracket ends there', () => {
  assert.deepEqual(linkify('"https://a.test/x"><script>'), [
    { text: '"' },
    { text: 'https://a.test/x', href: 'https://a.test/x' },
    { text: '"><script>' },
  ]);
});
