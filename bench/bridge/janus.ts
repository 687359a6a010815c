import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

/**
 * Janus (Debian's 1.1.x) as the benchmark's peer SFU: its VideoRoom plugin and the plain HTTP
 * transport only, on the benchmark namespace's test host (`bench0`, 198.18.0.1) for ICE, which
 * libnice needs (it gathers nothing on loopback alone). Reached with Janus's HTTP API.
 */
export const janusAddress = '198.18.0.1';
const lib = '/usr/lib/x86_64-linux-gnu/janus';

export interface Janus {
  proc: ChildProcess;
  api: JanusApi;
  stop(): Promise<void>;
}

export async function startJanus(httpPort: number, pinCpu: number): Promise<Janus> {
  const dir = mkdtempSync(path.join(tmpdir(), 'confab-janus-'));
  const others = (keep: string[]) => (names: string[]) =>
    names.filter((n) => !keep.includes(n)).join(',');
  const plugins = others(['libjanus_videoroom.so'])([
    'libjanus_audiobridge.so',
    'libjanus_duktape.so',
    'libjanus_echotest.so',
    'libjanus_lua.so',
    'libjanus_nosip.so',
    'libjanus_recordplay.so',
    'libjanus_sip.so',
    'libjanus_streaming.so',
    'libjanus_textroom.so',
    'libjanus_videocall.so',
    'libjanus_voicemail.so',
  ]);
  const transports =
    'libjanus_mqtt.so,libjanus_nanomsg.so,libjanus_pfunix.so,libjanus_rabbitmq.so,libjanus_websockets.so';
  writeFileSync(
    path.join(dir, 'janus.jcfg'),
    `general: {
  configs_folder = "${dir}"
  plugins_folder = "${lib}/plugins"
  transports_folder = "${lib}/transports"
  events_folder = "${lib}/events"
  loggers_folder = "${lib}/loggers"
  debug_level = 4
}
media: {
  rtp_port_range = "20000-20999"
}
nat: {
  ice_enforce_list = "bench0"
}
plugins: { disable = "${plugins}" }
transports: { disable = "${transports}" }
events: { broadcast = false }
loggers: { disable = "libjanus_jsonlog.so" }
`,
  );
  writeFileSync(
    path.join(dir, 'janus.transport.http.jcfg'),
    `general: {\n  base_path = "/janus"\n  http = true\n  port = ${httpPort}\n  ip = "127.0.0.1"\n  https = false\n}\nadmin: {\n  admin_http = false\n}\n`,
  );
  writeFileSync(path.join(dir, 'janus.plugin.videoroom.jcfg'), 'general: {\n}\n');
  // `setpriv --pdeathsig`: Janus is killed with the benchmark even when that dies without
  // stopping it (an uncaught error, SIGKILL); it was left running after an aborted run. setpriv
  // and taskset exec, so the pid is Janus's own.
  const proc = spawn(
    'setpriv',
    [
      '--pdeathsig',
      'KILL',
      '--',
      'taskset',
      '-c',
      String(pinCpu),
      'janus',
      '-F',
      dir,
      '-C',
      path.join(dir, 'janus.jcfg'),
    ],
    { stdio: ['ignore', 'ignore', 'inherit'] },
  );
  const exited = new Promise<void>((r) => proc.once('exit', () => r()));
  const api = new JanusApi(`http://127.0.0.1:${httpPort}/janus`);
  const deadline = Date.now() + 15_000;
  for (;;) {
    try {
      await api.info();
      break;
    } catch (err) {
      if (Date.now() > deadline || proc.exitCode !== null)
        throw new Error(`janus did not start: ${(err as Error).message}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  return {
    proc,
    api,
    async stop() {
      if (proc.exitCode === null) proc.kill('SIGTERM');
      await exited;
    },
  };
}

interface JanusReply {
  janus: string;
  data?: { id: number };
  plugindata?: { data: Record<string, unknown> };
  jsep?: { type: string; sdp: string };
  sender?: number;
  transaction?: string;
  error?: { code: number; reason: string };
}

let tx = 0;

/** The least of Janus's HTTP API that a VideoRoom publisher and subscriber need. */
export class JanusApi {
  constructor(readonly base: string) {}

  async #post(url: string, body: Record<string, unknown>): Promise<JanusReply> {
    const res = await fetch(url, {
      method: 'POST',
      body: JSON.stringify({ ...body, transaction: `t${++tx}` }),
    });
    const reply = (await res.json()) as JanusReply;
    if (reply.janus === 'error') throw new Error(`janus: ${reply.error?.reason}`);
    return reply;
  }

  async info(): Promise<void> {
    const res = await fetch(`${this.base}/info`);
    if (!res.ok) throw new Error(String(res.status));
  }

  /** A session with one VideoRoom handle, long-polled for its events. */
  async handle(): Promise<JanusHandle> {
    const session = (await this.#post(this.base, { janus: 'create' })).data?.id as number;
    const handle = (
      await this.#post(`${this.base}/${session}`, {
        janus: 'attach',
        plugin: 'janus.plugin.videoroom',
      })
    ).data?.id as number;
    return new JanusHandle(this, session, handle, (url, body) => this.#post(url, body));
  }
}

export class JanusHandle {
  #events: JanusReply[] = [];
  #waiters: ((r: JanusReply) => void)[] = [];
  #polling = true;

  constructor(
    readonly api: JanusApi,
    readonly session: number,
    readonly id: number,
    private readonly post: (url: string, body: Record<string, unknown>) => Promise<JanusReply>,
  ) {
    void this.#poll();
  }

  async #poll(): Promise<void> {
    while (this.#polling) {
      try {
        const res = await fetch(`${this.api.base}/${this.session}?maxev=5`);
        const got = (await res.json()) as JanusReply | JanusReply[];
        for (const e of Array.isArray(got) ? got : [got]) {
          if (e.janus !== 'event') continue;
          const w = this.#waiters.shift();
          if (w) w(e);
          else this.#events.push(e);
        }
      } catch {
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  }

  /** Sends a plugin message (with a JSEP if given) and waits for its event. */
  async request(
    body: Record<string, unknown>,
    jsep?: { type: string; sdp: string },
  ): Promise<JanusReply> {
    const reply = await this.post(`${this.api.base}/${this.session}/${this.id}`, {
      janus: 'message',
      body,
      ...(jsep ? { jsep } : {}),
    });
    if (reply.janus !== 'ack') return reply;
    const e = this.#events.shift();
    if (e) return e;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('janus sent no event')), 15_000);
      this.#waiters.push((r) => {
        clearTimeout(timer);
        resolve(r);
      });
    });
  }

  /** Trickles one of our ICE candidates to Janus (`candidate` is `candidate:…`), or the end. */
  async trickle(candidate: { candidate: string; sdpMid: string } | { completed: true }) {
    await this.post(`${this.api.base}/${this.session}/${this.id}`, { janus: 'trickle', candidate });
  }

  async close(): Promise<void> {
    this.#polling = false;
    await this.post(`${this.api.base}/${this.session}`, { janus: 'destroy' }).catch(() => {});
  }
}
