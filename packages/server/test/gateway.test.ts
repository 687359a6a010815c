import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { statSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { healthCheckSchema, webConfigSchema } from '@confab/protocol';
import { ConfigError } from '../src/config/index.js';
import { startTestServer, type TestServer, tempDir } from './helpers.js';

describe('gateway with defaults', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer();
  });
  after(() => server.close());

  const get = (p: string, init?: RequestInit) =>
    fetch(new URL(p, server.localUrl), { redirect: 'manual', ...init });

  test('/ redirects to /meet/, /meet to /meet/', async () => {
    const root = await get('/');
    assert.equal(root.status, 302);
    assert.equal(root.headers.get('location'), '/meet/');
    const meet = await get('/meet');
    assert.equal(meet.status, 301);
    assert.equal(meet.headers.get('location'), '/meet/');
  });

  for (const p of ['/meet/', '/meet/r/group/x', '/meet/r/group/public/team-a']) {
    test(`${p} serves the app shell, revalidated every time`, async () => {
      const res = await get(p);
      assert.equal(res.status, 200);
      assert.match(res.headers.get('content-type') ?? '', /^text\/html/);
      assert.equal(res.headers.get('cache-control'), 'no-cache');
      assert.match(await res.text(), /<div id="root">/);
    });
  }

  test('security headers: CSP with frame-ancestors, nosniff, referrer policy; no HSTS without TLS', async () => {
    const res = await get('/meet/');
    const csp = res.headers.get('content-security-policy') ?? '';
    assert.match(csp, /default-src 'self'/);
    assert.match(csp, /script-src 'self'(;|$)/);
    assert.match(csp, /frame-ancestors 'self'/);
    assert.match(csp, /object-src 'none'/);
    assert.ok(csp.includes(`connect-src 'self' ${server.url.replace('http', 'ws')}`), csp);
    assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
    assert.equal(res.headers.get('referrer-policy'), 'no-referrer');
    assert.equal(res.headers.get('x-frame-options'), 'SAMEORIGIN');
    assert.equal(res.headers.get('cross-origin-opener-policy'), 'same-origin');
    assert.equal(res.headers.get('strict-transport-security'), null);
  });

  test('hashed assets are immutable and served precompressed', async () => {
    const res = await get('/meet/assets/app-abc123.js', { headers: { 'accept-encoding': 'gzip' } });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('cache-control'), 'public, max-age=31536000, immutable');
    assert.equal(res.headers.get('content-encoding'), 'gzip');
    assert.match(await res.text(), /^console\.log/); // fetch decodes it
  });

  test('the service worker is never cached and may control /meet/', async () => {
    const res = await get('/meet/service-worker.js');
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('cache-control'), 'no-cache');
    assert.match(res.headers.get('content-type') ?? '', /javascript/);
    assert.equal(res.headers.get('service-worker-allowed'), '/meet/');
  });

  test('config.json has the fields of SPEC §2 for this origin, not cached', async () => {
    const res = await get('/api/config/v1/kopano/meet/config.json');
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('cache-control'), 'no-cache');
    const body = webConfigSchema.parse(await res.json());
    assert.equal(body.apiPrefix, '/api/gc/v1');
    assert.equal(body.oidc.iss, server.url);
    assert.equal(body.oidc.clientID, `kpop-${server.url}/meet/`);
    assert.equal(body.oidc.scope, 'openid profile email kopano/kwm kopano/gc');
    assert.equal(body.kwm.url, '');
    assert.deepEqual(body.guests, {
      enabled: true,
      default: null,
      defaultPublicGroupPrefix: 'public/',
      publicGroupRegexp: '^group/public/.*',
    });
    assert.equal(body.disableFullGAB, false);
    assert.equal(body.disableRemoteTalkingDetection, false);
    assert.deepEqual(body.apps, { enabled: [], links: {} });
  });

  test('/health-check answers 200 with status, version and uptime', async () => {
    const res = await get('/health-check');
    assert.equal(res.status, 200);
    const body = healthCheckSchema.parse(await res.json());
    assert.equal(body.status, 'ok');
    assert.match(body.version, /^\d+\.\d+\.\d+/);
    assert.ok(body.uptime >= 0);
  });

  test('/metrics gives process metrics and a request histogram by route and status', async () => {
    await get('/health-check');
    await get('/no/such/thing');
    const res = await get('/metrics');
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/plain/);
    const text = await res.text();
    assert.match(text, /^process_cpu_seconds_total \d/m);
    assert.match(
      text,
      /^http_request_duration_seconds_count\{method="GET",route="\/health-check",status_code="200"\} \d+/m,
    );
    assert.match(
      text,
      /^http_request_duration_seconds_count\{method="GET",route="unmatched",status_code="404"\} \d+/m,
    );
  });

  test('unknown paths answer 404 with a stable code', async () => {
    for (const p of ['/nope', '/meet/nope.js', '/api/unknown']) {
      const res = await get(p);
      assert.equal(res.status, 404, p);
      assert.deepEqual(await res.json(), {
        error: { code: 'not_found', message: `no route for GET ${p}` },
      });
    }
  });

  test('malformed and oversized bodies get stable codes, and the server stays up', async () => {
    const cases: [RequestInit, number, string][] = [
      [{ body: '{"broken":', headers: { 'content-type': 'application/json' } }, 400, 'bad_request'],
      [
        {
          body: JSON.stringify({ x: 'y'.repeat(70 * 1024) }),
          headers: { 'content-type': 'application/json' },
        },
        413,
        'payload_too_large',
      ],
    ];
    for (const [init, status, code] of cases) {
      const res = await get('/health-check', { method: 'POST', ...init });
      assert.equal(res.status, status, code);
      assert.equal(((await res.json()) as { error: { code: string } }).error.code, code);
    }
    assert.equal((await get('/health-check')).status, 200);
  });

  test('the data directory is created with mode 0700', () => {
    assert.equal(statSync(server.dataDir).mode & 0o777, 0o700);
  });
});

describe('gateway settings', () => {
  test('guests.enabled needs both enable_guest_api and allow_client_guests; web_config merges', async () => {
    const server = await startTestServer({
      yaml: [
        'enable_guest_api: no',
        'public_guest_access_regexp: ^group/(public|open)/.*',
        'hostname: https://meet.example.com',
        'apps: {enabled: [meet]}',
        'web_config: {kwm: {webrtc: {config: {iceTransportPolicy: relay}}}, disableFullGAB: true}',
      ].join('\n'),
    });
    try {
      const body = webConfigSchema.parse(
        await (
          await fetch(new URL('/api/config/v1/kopano/meet/config.json', server.localUrl))
        ).json(),
      );
      assert.equal(server.url, 'https://meet.example.com');
      assert.match(server.localUrl, /^http:\/\/127\.0\.0\.1:\d+$/);
      assert.equal(body.guests.enabled, false);
      assert.equal(body.guests.publicGroupRegexp, '^group/(public|open)/.*');
      assert.equal(body.oidc.iss, 'https://meet.example.com');
      assert.deepEqual(body.kwm.webrtc, { config: { iceTransportPolicy: 'relay' } });
      assert.equal(body.kwm.apiPrefix, '/api/kwm/v2');
      assert.equal(body.disableFullGAB, true);
      assert.deepEqual(body.apps, { enabled: ['meet'], links: { meet: '/meet/' } });
    } finally {
      await server.close();
    }
    const both = await startTestServer({
      env: { CONFAB_ENABLE_GUEST_API: 'yes', CONFAB_ALLOW_CLIENT_GUESTS: 'yes' },
    });
    try {
      const body = webConfigSchema.parse(
        await (
          await fetch(new URL('/api/config/v1/kopano/meet/config.json', both.localUrl))
        ).json(),
      );
      assert.equal(body.guests.enabled, true);
    } finally {
      await both.close();
    }
  });

  test('/metrics refuses clients a trusted proxy reports as remote', async () => {
    const server = await startTestServer({ yaml: 'trusted_proxies: [127.0.0.1]' });
    try {
      const remote = await fetch(new URL('/metrics', server.localUrl), {
        headers: { 'x-forwarded-for': '203.0.113.9' },
      });
      assert.equal(remote.status, 403);
      assert.equal(((await remote.json()) as { error: { code: string } }).error.code, 'forbidden');
      const local = await fetch(new URL('/metrics', server.localUrl));
      assert.equal(local.status, 200);
    } finally {
      await server.close();
    }
  });

  test('without trusted_proxies, X-Forwarded-For is ignored', async () => {
    const server = await startTestServer();
    try {
      const res = await fetch(new URL('/metrics', server.localUrl), {
        headers: { 'x-forwarded-for': '203.0.113.9' },
      });
      assert.equal(res.status, 200);
    } finally {
      await server.close();
    }
  });

  test('metrics_listen moves /metrics to its own listener', async () => {
    const server = await startTestServer({ yaml: 'metrics_listen: 127.0.0.1:0' });
    try {
      assert.equal((await fetch(new URL('/metrics', server.localUrl))).status, 404);
      assert.ok(server.metricsUrl);
      const res = await fetch(server.metricsUrl);
      assert.equal(res.status, 200);
      assert.match(await res.text(), /process_cpu_seconds_total/);
    } finally {
      await server.close();
    }
  });

  test('an unbuilt web app answers 503 with a clear message instead of failing to start', async () => {
    const server = await startTestServer({ webRoot: tempDir('confab-empty-') });
    try {
      const res = await fetch(new URL('/meet/r/group/x', server.localUrl));
      assert.equal(res.status, 503);
      const body = (await res.json()) as { error: { code: string; message: string } };
      assert.equal(body.error.code, 'unavailable');
      assert.match(body.error.message, /npm run build/);
      assert.ok(server.logs.some((l) => l.level === 50 && String(l.msg).includes('not built')));
    } finally {
      await server.close();
    }
  });

  test('a non-loopback address without TLS logs a loud warning', async () => {
    // The test runner keeps us in a namespace where only loopback exists; nothing is sent.
    const dir = tempDir();
    const { loadConfig } = await import('../src/config/index.js');
    const { startServer } = await import('../src/main.js');
    const pino = (await import('pino')).default;
    const lines: string[] = [];
    const logger = pino({ level: 'info' }, { write: (s: string) => void lines.push(s) });
    const settings = loadConfig({
      cwd: dir,
      env: {},
      flags: { listen: '0.0.0.0:0', 'data-dir': path.join(dir, 'data') },
    });
    const s = await startServer({ settings, logger, webRoot: tempDir() });
    await s.close();
    const warn = lines
      .map((l) => JSON.parse(l) as { level: number; msg: string })
      .find((l) => l.level === 40);
    assert.ok(warn, 'a warning was logged');
    assert.match(warn.msg, /WITHOUT TLS ON A NON-LOOPBACK ADDRESS/);
  });
});

describe('gateway over TLS', () => {
  test('serves HTTPS with HSTS and an https origin when tls_cert and tls_key are set', async () => {
    const dir = tempDir();
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:P-256',
        '-nodes',
        '-days',
        '1',
        '-subj',
        '/CN=localhost',
        '-keyout',
        path.join(dir, 'key.pem'),
        '-out',
        path.join(dir, 'cert.pem'),
      ],
      { stdio: 'ignore' },
    );
    const server = await startTestServer({
      yaml: `tls_cert: ${dir}/cert.pem\ntls_key: ${dir}/key.pem\n`,
    });
    try {
      assert.match(server.url, /^https:\/\/127\.0\.0\.1:\d+$/);
      assert.equal(server.localUrl, server.url);
      const headers = await new Promise<Record<string, string | string[] | undefined>>(
        (resolve, reject) => {
          const req = httpsRequest(
            new URL('/health-check', server.localUrl),
            { rejectUnauthorized: false },
            (res) => {
              res.resume();
              resolve(res.headers);
            },
          );
          req.on('error', reject);
          req.end();
        },
      );
      assert.match(String(headers['strict-transport-security']), /max-age=\d+/);
      assert.match(
        String(headers['content-security-policy']),
        /connect-src 'self' wss:\/\/127\.0\.0\.1:\d+/,
      );
    } finally {
      await server.close();
    }
  });

  test('an unreadable TLS file stops the start with a config error naming the key', async () => {
    const dir = tempDir();
    await assert.rejects(
      startTestServer({ yaml: `tls_cert: ${dir}/missing.pem\ntls_key: ${dir}/missing-key.pem\n` }),
      (err: unknown) =>
        err instanceof ConfigError &&
        err.message ===
          `confab: tls_cert: cannot read ${dir}/missing.pem: no such file or directory`,
    );
  });
});
