import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { bridgeControlPath, type FocusMessage, rtmWebsocketPath } from '@confab/protocol';
import fc from 'fast-check';
import WebSocket from 'ws';
import { type ConfabProcess, runConfab, startConfab } from '../../../test/support/confabProcess.js';
import {
  hostile,
  hostileMany,
  rawRequest,
  resetMidway,
  tlsHandshakeReset,
  upgradeRequest,
} from '../../../test/support/hostileClient.js';
import { testRp, tokensFor } from '../../../test/support/oidcFlow.js';
import { RtmClient, rtmConnect } from '../../../test/support/rtmClient.js';
import { FakeBridge, joined } from './fakeBridge.js';
import { almostValid, controlFrames } from './fuzzFrames.js';
import { tempDir } from './helpers.js';

/**
 * Hostile clients against the real `confab serve` command (issue 19): one unauthenticated
 * request must never stop the process. After each attack the process is still running and
 * /health-check answers 200.
 */

const registry = `clients:\n  - id: ${testRp.id}\n    secret: ${testRp.secret}\n    trusted: true\n    redirect_uris: [${testRp.redirectUri}]\n`;
const rtmPath = (key: string) => `${rtmWebsocketPath}/${key}`;

/** A user added with `confab user add` and signed in over HTTP: their access token. */
async function signedIn(server: ConfabProcess, username: string): Promise<string> {
  const password = `${username}-pw`;
  const add = await runConfab(
    ['user', 'add', username, '--name', username, '--password-stdin', '--data-dir', server.dataDir],
    { input: `${password}\n` },
  );
  assert.equal(add.code, 0, add.stderr);
  return (await tokensFor(server.localUrl, username, password)).access_token;
}

/** The process has not exited; if it has, its fatal log line says why. */
async function assertRunning(server: ConfabProcess, after: string): Promise<void> {
  // A crash takes a moment to become an exit: give it the chance to show.
  await new Promise((r) => setTimeout(r, 50));
  const fatal = server.logs.find((l) => l.level >= 60);
  assert.equal(
    server.proc.exitCode ?? server.proc.signalCode,
    null,
    `confab exited after ${after}: ${fatal ? JSON.stringify(fatal.err) : server.stderr()}`,
  );
}

/** The process still runs and serves /health-check. */
async function assertAlive(server: ConfabProcess, after: string): Promise<void> {
  await assertRunning(server, after);
  const res = await fetch(new URL('/health-check', server.localUrl));
  assert.equal(res.status, 200, `/health-check after ${after}`);
}

const portOf = (url: string) => Number(new URL(url).port);

describe('hostile clients against confab serve', () => {
  let server: ConfabProcess;
  let port: number;
  let metricsPort: number;
  let aliceToken: string;
  let bobToken: string;
  before(async () => {
    server = await startConfab({
      config: 'identifier_registration_conf: registry.yaml\nmetrics_listen: 127.0.0.1:0\n',
      files: { 'registry.yaml': registry },
    });
    port = portOf(server.localUrl);
    const ready = server.logs.find((l) => l.msg === 'ready');
    metricsPort = portOf(String(ready?.metrics));
    [aliceToken, bobToken] = await Promise.all([
      signedIn(server, 'alice'),
      signedIn(server, 'bob'),
    ]);
  });
  after(async () => {
    await server?.stop();
  });

  test('a malformed percent-escape in the RTM upgrade path is refused with 403, three times; the server goes on', async () => {
    for (const key of ['%ZZ', '%ZZ', '%ZZ', '%', '%E0%A4%A', '%C0%AF', '%00']) {
      const res = await hostile({ port, send: upgradeRequest(rtmPath(key)), wait: 'close' });
      await assertAlive(server, `an upgrade to ${rtmPath(key)}`);
      assert.equal(res.status, 403, `key ${key}`);
      assert.equal(res.closed, 'full', `key ${key}: the server closes the socket`);
    }
  });

  test('refused upgrades: 404 for an unknown path, 403 for a bad or used RTM key, 401 for a bridge without the secret; each socket closed by the server', async () => {
    const connect = await rtmConnect(server.localUrl, aliceToken);
    const used = (connect.body as { url: string }).url;
    const ws = new WebSocket(new URL(used, server.localUrl.replace(/^http/, 'ws')));
    await new Promise((resolve, reject) => {
      ws.once('open', resolve);
      ws.once('error', reject);
    });
    ws.close();
    for (const [request, status] of [
      [upgradeRequest('/other'), 404],
      [upgradeRequest('/health-check'), 404],
      [upgradeRequest(rtmWebsocketPath), 404],
      [upgradeRequest(rtmPath('not-a-key')), 403],
      [upgradeRequest(new URL(used, server.localUrl).pathname), 403],
      [upgradeRequest(bridgeControlPath), 401],
      [upgradeRequest(bridgeControlPath, ['Authorization: Bearer wrong']), 401],
      [upgradeRequest(`${bridgeControlPath}?x=1`, ['Authorization: Basic Zm9vOmJhcg==']), 401],
    ] as const) {
      const res = await hostile({ port, send: request, wait: 'close' });
      const line = request.split('\r\n')[0] as string;
      await assertAlive(server, line);
      assert.equal(res.status, status, line);
      assert.equal(res.closed, 'full', `${line}: the server closes the socket, not half of it`);
    }
  });

  test('a refused upgrade followed by a TCP reset, three times for each path, leaves the server up', async () => {
    const paths = [
      '/other',
      rtmPath('not-a-key'),
      rtmPath('%ZZ'),
      bridgeControlPath,
      `${bridgeControlPath}/x`,
    ];
    for (const target of paths) {
      for (let i = 0; i < 3; i++) {
        // At once: the server writes its refusal into a socket that is already reset.
        await hostile({ port, send: upgradeRequest(target), wait: 'nothing', leave: 'reset' });
        await assertAlive(server, `an upgrade to ${target} and a reset (${i + 1})`);
      }
      // After the refusal arrived: the reset meets a socket the server is closing.
      await hostile({ port, send: upgradeRequest(target), wait: 'reply', leave: 'reset' });
      await assertAlive(server, `an upgrade to ${target}, its refusal, and a reset`);
    }
  });

  test('an accepted upgrade (RTM key, bridge secret) followed by a reset leaves the server up', async () => {
    const secret = readFileSync(path.join(server.dataDir, 'bridge-secret.key'), 'utf8').trim();
    for (let i = 0; i < 3; i++) {
      const connect = await rtmConnect(server.localUrl, aliceToken);
      const key = new URL((connect.body as { url: string }).url, server.localUrl).pathname;
      const rtm = await hostile({ port, send: upgradeRequest(key), wait: 'reply', leave: 'reset' });
      assert.equal(rtm.status, 101);
      const bridge = await hostile({
        port,
        send: upgradeRequest(bridgeControlPath, [`Authorization: Bearer ${secret}`]),
        wait: 'reply',
        leave: 'reset',
      });
      assert.equal(bridge.status, 101);
      await assertAlive(server, 'accepted upgrades and resets');
    }
  });

  test('bad requests: garbage, oversized headers and requests cut off by a reset get 400, 431 or a drop; the server goes on', async () => {
    for (const [send, status] of [
      ['GARBAGE\r\n\r\n', 400],
      [Buffer.from([0x00, 0x01, 0xff, 0xfe, 0x0d, 0x0a, 0x0d, 0x0a]), 400],
      ['GET / HTTP/9.9\r\nHost: x\r\n\r\n', 400],
      ['GET /\x01 HTTP/1.1\r\nHost: x\r\n\r\n', 400],
      [rawRequest('GET / HTTP/1.1', ['Host: x', 'Bad Header Line']), 400],
      [rawRequest('GET / HTTP/1.1', ['Host: x', `X-Big: ${'a'.repeat(20_000)}`]), 431],
      [rawRequest(`GET /${'a'.repeat(20_000)} HTTP/1.1`, ['Host: x']), 431],
      [rawRequest('GET / HTTP/1.1', ['Host: x', 'Content-Length: 1', 'Content-Length: 2']), 400],
      [rawRequest('GET / HTTP/1.1', ['Host: x', 'Transfer-Encoding: chunked, identity']), 400],
    ] as const) {
      const res = await hostile({ port, send, wait: 'close' });
      assert.equal(res.status, status, JSON.stringify(String(send).slice(0, 40)));
      assert.equal(res.closed, 'full');
    }
    for (const request of [
      upgradeRequest('/other'),
      upgradeRequest(rtmPath('%ZZ')),
      rawRequest('GET /health-check HTTP/1.1', ['Host: x']),
      rawRequest('POST /api/kwm/v2/rtm/connect HTTP/1.1', ['Host: x', 'Content-Length: 100']),
    ])
      for (const fraction of [0.1, 0.5, 0.95]) await resetMidway({ port }, request, fraction);
    await hostile({ port, send: 'GARBAGE\r\n\r\n', wait: 'nothing', leave: 'reset' });
    await assertAlive(server, 'bad requests and resets mid-request');
  });

  test('many hostile sockets at once: 60 upgrades reset at once and 20 stalled half-requests; the server goes on', async () => {
    await Promise.all([
      hostileMany(20, { port, send: upgradeRequest('/other'), wait: 'nothing', leave: 'reset' }),
      hostileMany(20, {
        port,
        send: upgradeRequest(rtmPath('%ZZ')),
        wait: 'nothing',
        leave: 'reset',
      }),
      hostileMany(20, {
        port,
        send: upgradeRequest(bridgeControlPath),
        wait: 'reply',
        leave: 'reset',
      }),
      hostileMany(20, {
        port,
        send: 'GET /health-check HTTP/1.1\r\nHost: x\r\nConnection: Upg',
        wait: 'nothing',
        leave: 'stall',
        stallMs: 500,
      }),
    ]);
    await assertAlive(server, 'many hostile sockets');
  });

  test('the metrics listener: upgrades are served as plain HTTP, CONNECT and garbage are refused, resets cost nothing', async () => {
    const metrics = await hostile({ port: metricsPort, send: upgradeRequest('/metrics') });
    assert.equal(metrics.status, 200);
    const other = await hostile({ port: metricsPort, send: upgradeRequest('/other') });
    assert.equal(other.status, 404);
    const badEscape = await hostile({ port: metricsPort, send: upgradeRequest(rtmPath('%ZZ')) });
    assert.equal(badEscape.status, 400);
    const connect = await hostile({
      port: metricsPort,
      send: rawRequest('CONNECT 127.0.0.1:1 HTTP/1.1', ['Host: 127.0.0.1:1']),
      wait: 'close',
    });
    assert.equal(connect.closed, 'full', 'CONNECT: dropped');
    const garbage = await hostile({ port: metricsPort, send: 'GARBAGE\r\n\r\n', wait: 'close' });
    assert.equal(garbage.status, 400);
    for (const target of ['/metrics', '/other', rtmPath('%ZZ'), bridgeControlPath]) {
      await hostile({
        port: metricsPort,
        send: upgradeRequest(target),
        wait: 'nothing',
        leave: 'reset',
      });
      await hostile({
        port: metricsPort,
        send: upgradeRequest(target),
        wait: 'reply',
        leave: 'reset',
      });
    }
    await resetMidway({ port: metricsPort }, upgradeRequest('/metrics'));
    await hostileMany(20, {
      port: metricsPort,
      send: upgradeRequest('/x'),
      wait: 'nothing',
      leave: 'reset',
    });
    await assertAlive(server, 'hostile clients of the metrics listener');
    assert.equal((await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).status, 200);
  });

  test('fuzz: random upgrade requests, each ended at random, leave the server up; rtm/connect and its WebSocket still work', async () => {
    const token = fc.oneof(
      fc.string({ maxLength: 20 }),
      fc.constantFrom(
        '%',
        '%Z',
        '%ZZ',
        '%00',
        '%E0%A4%A',
        '%C0%AF',
        '%F0%9F%98%80',
        '..',
        '?',
        '#',
      ),
      fc.string({ unit: 'grapheme', maxLength: 8 }).map(encodeURI),
      fc.string({ unit: 'binary', maxLength: 8 }),
      fc.constant('a'.repeat(9000)),
    );
    const target = fc.oneof(
      { weight: 1, arbitrary: fc.constantFrom(bridgeControlPath, `${bridgeControlPath}?a=%ZZ`) },
      {
        weight: 6,
        arbitrary: fc
          .tuple(
            fc.constantFrom(`${rtmWebsocketPath}/`, bridgeControlPath, '/', '/api/', '*', ''),
            fc.array(token, { maxLength: 4 }),
          )
          // Raw bytes in the line: CR and LF end it early, which the server must survive too.
          .map(([prefix, parts]) => prefix + parts.join('')),
      },
    );
    /**
     * One header of a real upgrade, mostly as it should be, else missing, twice, with another
     * value, or twice with different values (duplicates are joined or refused by the parser).
     */
    const header = (name: string, valid: string, others: string[]) => {
      const line = (v: string) => `${name}: ${v}`;
      const other = fc.oneof(fc.constantFrom(...others), fc.string({ maxLength: 30 })).map(line);
      return fc.oneof(
        { weight: 5, arbitrary: fc.constant([line(valid)]) },
        { weight: 1, arbitrary: fc.constant([]) },
        { weight: 1, arbitrary: fc.constant([line(valid), line(valid)]) },
        { weight: 2, arbitrary: other.map((o) => [o]) },
        { weight: 1, arbitrary: other.map((o) => [line(valid), o]) },
      );
    };
    const extra = (name: string, values: string[]) =>
      fc
        .option(fc.oneof(fc.constantFrom(...values), fc.string({ maxLength: 30 })), { freq: 2 })
        .map((v) => (v === null ? [] : [`${name}: ${v}`]));
    const request = fc.record({
      method: fc.oneof(
        { weight: 4, arbitrary: fc.constant('GET') },
        {
          weight: 1,
          arbitrary: fc.constantFrom('POST', 'HEAD', 'PUT', 'OPTIONS', 'PRI', 'GE T', ''),
        },
      ),
      target,
      version: fc.oneof(
        { weight: 4, arbitrary: fc.constant('HTTP/1.1') },
        { weight: 1, arbitrary: fc.constantFrom('HTTP/1.0', 'HTTP/2.0', 'HTTP/1.1 x', '') },
      ),
      headers: fc
        .tuple(
          header('Connection', 'Upgrade', ['upgrade, keep-alive', 'close', '']),
          header('Upgrade', 'websocket', ['WebSocket', 'h2c', 'websocket, h2c', '']),
          header('Sec-WebSocket-Key', 'dGhlIHNhbXBsZSBub25jZQ==', ['short', '']),
          header('Sec-WebSocket-Version', '13', ['8', '99999999999999999999', '']),
          extra('Sec-WebSocket-Protocol', ['kwm', 'a, a, a', ',,,']),
          extra('Sec-WebSocket-Extensions', ['permessage-deflate; client_max_window_bits', 'x;;']),
          extra('Authorization', ['Bearer ', 'Bearer x', 'Basic']),
          extra('Content-Length', ['0', '5', '-1', 'x']),
        )
        .chain((hs) => fc.shuffledSubarray(hs.flat(), { minLength: hs.flat().length })),
      hostHeader: fc.boolean(),
      ending: fc.constantFrom('end', 'reset', 'stall') as fc.Arbitrary<'end' | 'reset' | 'stall'>,
      wait: fc.constantFrom('nothing', 'reply') as fc.Arbitrary<'nothing' | 'reply'>,
    });
    const statuses = new Map<number | undefined, number>();
    await fc.assert(
      fc.asyncProperty(request, async (r) => {
        const lines = [...(r.hostHeader ? ['Host: localhost'] : []), ...r.headers];
        const res = await hostile({
          port,
          send: rawRequest(`${r.method} ${r.target} ${r.version}`.trim(), lines),
          wait: r.wait,
          leave: r.ending,
          timeoutMs: 400,
          stallMs: 30,
        });
        statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
        // A 5xx would be a handler that threw; 101 needs a key or a secret nobody guessed.
        assert.ok(
          res.status === undefined || (res.status >= 400 && res.status < 500),
          `status ${res.status}`,
        );
      }),
      { numRuns: 150, seed: 1919 },
    );
    await assertAlive(server, 'random upgrade requests');
    // The fuzz reached the handlers, not only the parser.
    for (const status of [400, 401, 403, 404])
      assert.ok(statuses.has(status), `no ${status} in ${JSON.stringify([...statuses])}`);
    const client = await RtmClient.open(server.localUrl, aliceToken);
    const id = client.send({ type: 'ping' });
    await client.next((m) => m.type === 'pong' && m.id === id);
    await client.close();
  });

  test('fuzz: an authenticated bridge sending random, almost valid and binary frames never stops the focus; another bridge keeps its link and its conference', async () => {
    const secret = readFileSync(path.join(server.dataDir, 'bridge-secret.key'), 'utf8').trim();
    const steady = await FakeBridge.connect(server.localUrl, secret, 'steady');
    let steadyClosed = false;
    steady.ws.on('close', () => {
      steadyClosed = true;
    });
    const alice = await RtmClient.open(server.localUrl, aliceToken);
    await joined(alice, 'group/steady');
    const first = await steady.next<'allocate'>((m) => m.type === 'allocate');

    const hello = {
      type: 'hello',
      version: 1,
      name: 'fuzzer',
      ice: { address: '127.0.0.1', port: 10998 },
    };
    let fuzzer: WebSocket | undefined;
    const open = async (): Promise<WebSocket> => {
      if (fuzzer?.readyState === WebSocket.OPEN) return fuzzer;
      const ws = new WebSocket(new URL(bridgeControlPath, server.localUrl.replace(/^http/, 'ws')), {
        headers: { authorization: `Bearer ${secret}` },
      });
      ws.on('error', () => {}); // a link the focus closes on us mid-send
      await new Promise((resolve, reject) => {
        ws.once('open', resolve);
        ws.once('unexpected-response', (_req, res) =>
          reject(new Error(`refused: ${res.statusCode}`)),
        );
      });
      ws.send(JSON.stringify(hello));
      fuzzer = ws;
      return ws;
    };
    /** A round trip: the focus has read everything sent before (or closed the link). */
    const settled = (ws: WebSocket) =>
      new Promise<void>((resolve) => {
        if (ws.readyState !== WebSocket.OPEN) return resolve();
        ws.once('close', () => resolve());
        ws.ping();
        ws.once('pong', () => resolve());
      });

    // The other bridge's conference and endpoint among the ids: knowing them must not help.
    const id = fc.oneof(
      fc.constantFrom(first.conference, first.endpoint, 'c1', 'e1'),
      fc.string({ minLength: 1, maxLength: 128 }),
    );
    const count = fc.oneof(fc.nat(), fc.constant(Number.MAX_SAFE_INTEGER));
    const about = { conference: id, endpoint: id };
    const valid: fc.Arbitrary<Record<string, unknown>> = fc.oneof(
      fc.record({
        type: fc.constant('hello'),
        version: fc.constant(1),
        name: fc.oneof(fc.constantFrom('fuzzer', 'steady'), fc.string({ minLength: 1 })),
        ice: fc.record({ address: fc.string(), port: fc.integer({ min: 1, max: 65535 }) }),
      }),
      fc.record({
        type: fc.constant('load'),
        conferences: count,
        endpoints: count,
        forwardedPackets: count,
        forwardedBytes: count,
        retransmittedPackets: count,
      }),
      fc.record({
        type: fc.constant('offer'),
        ...about,
        sdp: fc.oneof(fc.constant('v=0'), fc.constant('z'.repeat(200_000))),
        streams: fc.dictionary(
          fc.string({ maxLength: 64 }),
          fc.record({
            user: fc.string(),
            source: fc.constantFrom('microphone', 'camera', 'screen'),
          }),
          { maxKeys: 3 },
        ),
      }),
      fc.record({
        type: fc.constant('candidate'),
        ...about,
        candidate: fc.string(),
        mid: fc.string({ maxLength: 64 }),
      }),
      fc.record({
        type: fc.constant('endpoint_state'),
        ...about,
        state: fc.constantFrom('connecting', 'connected', 'disconnected', 'failed', 'closed'),
      }),
      fc.record({ type: fc.constant('speaker'), ...about }),
      fc.record({
        type: fc.constant('error'),
        code: fc.constantFrom('bad_message', 'unknown_endpoint', 'negotiation_failed'),
        message: fc.string(),
        ...about,
      }),
    );
    const types = ['hello', 'load', 'offer', 'candidate', 'endpoint_state', 'speaker', 'error'];
    const frame = controlFrames(almostValid(valid, [...types, 'welcome', 'allocate', '']));
    const frames = fc.sample(frame, { numRuns: 300, seed: 1920 });
    // Over the focus's 1 MiB frame limit, once.
    frames.push(`{"type":"load","x":"${'w'.repeat(1024 * 1024)}"}`);
    // One frame at a time: each reaches the focus on a link it has not closed yet.
    for (const f of frames) {
      const ws = await open();
      ws.send(f);
      await settled(ws);
    }
    fuzzer?.terminate();

    await assertAlive(server, 'a fuzzing bridge');
    assert.equal(steadyClosed, false, 'the other bridge kept its link');
    assert.equal(steady.ws.readyState, WebSocket.OPEN);
    // Its conference is still its own: the next member gets an endpoint there, not elsewhere.
    const bob = await RtmClient.open(server.localUrl, bobToken);
    await joined(bob, 'group/steady');
    const second = await steady.next<'allocate'>(
      (m: FocusMessage) => m.type === 'allocate' && m.endpoint !== first.endpoint,
    );
    assert.equal(second.conference, first.conference);
    await Promise.all([alice.close(), bob.close()]);
    await steady.close();
  });
});

describe('hostile clients against confab serve over TLS', () => {
  let server: ConfabProcess;
  let port: number;
  before(async () => {
    const dir = tempDir('confab-tls-');
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:prime256v1',
        '-nodes',
        '-subj',
        '/CN=localhost',
        '-days',
        '1',
        '-keyout',
        path.join(dir, 'key.pem'),
        '-out',
        path.join(dir, 'cert.pem'),
      ],
      { stdio: 'ignore' },
    );
    server = await startConfab({
      config: `tls_cert: ${path.join(dir, 'cert.pem')}\ntls_key: ${path.join(dir, 'key.pem')}\n`,
    });
    port = portOf(server.localUrl);
  });
  after(async () => {
    await server?.stop();
  });

  /** Alive, and /health-check answers 200 over TLS (the self-signed certificate accepted). */
  async function assertAliveTls(after: string): Promise<void> {
    await assertRunning(server, after);
    const res = await hostile({
      port,
      tls: true,
      send: rawRequest('GET /health-check HTTP/1.1', ['Host: localhost', 'Connection: close']),
      wait: 'close',
    });
    assert.equal(res.status, 200, `/health-check after ${after}`);
  }

  test('resets during the handshake, garbage instead of a ClientHello, and plain HTTP to the TLS port leave the server up', async () => {
    for (let i = 0; i < 3; i++) {
      await tlsHandshakeReset(port, 'partial');
      await tlsHandshakeReset(port, 'after-server-hello');
    }
    const garbage = await hostile({
      port,
      send: Buffer.from('\x16\x03\x01\x00\x05hello garbage'),
      wait: 'close',
    });
    assert.notEqual(garbage.closed, 'no', 'garbage: the connection is dropped');
    const plain = await hostile({
      port,
      send: rawRequest('GET /health-check HTTP/1.1', ['Host: x']),
      wait: 'close',
    });
    assert.equal(plain.status, undefined, 'no HTTP answer in clear text');
    assert.notEqual(plain.closed, 'no', 'plain HTTP: the connection is dropped');
    await hostile({ port, send: upgradeRequest('/other'), wait: 'nothing', leave: 'reset' });
    await hostileMany(20, {
      port,
      send: Buffer.from([0x16, 0x03, 0x01]),
      wait: 'nothing',
      leave: 'reset',
    });
    await assertAliveTls('broken handshakes');
  });

  test('upgrades over TLS are refused with their status: 404 unknown path, 403 bad key, 401 bridge without the secret', async () => {
    for (const [target, status] of [
      ['/other', 404],
      [rtmPath('not-a-key'), 403],
      [rtmPath('%ZZ'), 403],
      [bridgeControlPath, 401],
    ] as const) {
      const res = await hostile({ port, tls: true, send: upgradeRequest(target), wait: 'reply' });
      await assertAliveTls(`an upgrade over TLS to ${target}`);
      assert.equal(res.status, status, target);
    }
  });

  test('an upgrade over TLS followed by a reset, three times for each path, leaves the server up', async () => {
    for (const target of ['/other', rtmPath('not-a-key'), bridgeControlPath]) {
      for (let i = 0; i < 3; i++) {
        await hostile({
          port,
          tls: true,
          send: upgradeRequest(target),
          wait: 'nothing',
          leave: 'reset',
        });
        await hostile({
          port,
          tls: true,
          send: upgradeRequest(target),
          wait: 'reply',
          leave: 'reset',
        });
      }
      await assertAliveTls(`upgrades over TLS to ${target} and resets`);
    }
  });
});
