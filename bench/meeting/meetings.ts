/**
 * A synthetic meeting set up on one SFU, not yet sending: the Confab bridge driven through the
 * fake focus, or Janus's VideoRoom through its HTTP API, alone on `sfuCore`; the participants
 * live in this process (bench/README.md "meeting").
 */
import type { ChildProcess } from 'node:child_process';
import { configSchema } from '../../packages/server/src/config/schema.js';
import { mlineLimit } from '../../packages/server/src/focus/index.js';
import { FakeFocus, startBridge } from '../../test/support/bridgeHarness.js';
import { startJanus } from '../bridge/janus.js';
import { ConfabParticipant, type Participant } from './confab.js';
import { JanusParticipant } from './janusPeers.js';
import { LoopLagProbe } from './loopLag.js';
import type { Measure } from './receive.js';
import { role, type Shape } from './shape.js';

export const sfuCore = 0;

const defaults = configSchema.shape;
/**
 * The m-line limit a real focus gives each endpoint with the default `rtm_max_message_size`
 * (256 KiB since main 24fd0e9: 400 m-lines; 64 KiB gave 102, ~49 publishers).
 */
export const focusMlineLimit = mlineLimit(defaults.rtm_max_message_size.parse(undefined));
/** `last_n`'s default in the configuration: what a real focus tells its bridges. */
export const defaultLastN = defaults.last_n.parse(undefined);

export interface Meeting {
  readonly sfu: 'confab' | 'janus';
  readonly proc: ChildProcess;
  readonly pid: number;
  readonly participants: Participant[];
  /** Confab: the bridge's own event-loop delay. */
  readonly loopLag?: LoopLagProbe;
  /** Set when the SFU process ended before `stop()`: how. */
  crashed(): string | undefined;
  stop(): Promise<void>;
}

export interface ConfabOptions {
  profileDir?: string;
  /** The welcome's `maxMlines` (default `focusMlineLimit`, as a real focus sends). */
  maxMlines?: number;
  /** The welcome's `lastN` (default `defaultLastN`). */
  lastN?: number;
  port?: number;
}

/**
 * The meeting once `join` has brought everyone in; if that fails, `stop` undoes what was built.
 * An exit of the SFU's process before `stop()` is kept as its crash.
 */
async function assemble(
  sfu: Meeting['sfu'],
  proc: ChildProcess,
  participants: Participant[],
  join: () => Promise<void>,
  stop: () => Promise<void>,
  loopLag?: LoopLagProbe,
): Promise<Meeting> {
  let stopping = false;
  let how: string | undefined;
  proc.once('exit', (code, signal) => {
    if (!stopping) how = `exited (${signal ?? `code ${code}`})`;
  });
  const stopAll = async () => {
    stopping = true;
    await stop();
  };
  try {
    await join();
  } catch (err) {
    await stopAll();
    throw err;
  }
  return {
    sfu,
    proc,
    pid: proc.pid as number,
    participants,
    ...(loopLag ? { loopLag } : {}),
    crashed: () => how,
    stop: stopAll,
  };
}

/** Every participant joins one after another; resolves once all are connected. */
export async function confabMeeting(
  shape: Shape,
  measure: Measure,
  opts: ConfabOptions = {},
): Promise<Meeting> {
  const focus = await FakeFocus.start({
    maxMlines: opts.maxMlines ?? focusMlineLimit,
    lastN: opts.lastN ?? defaultLastN,
  });
  const loopLag = new LoopLagProbe();
  const bridge = await startBridge(focus, opts.port ?? 10490, {
    pinCpu: sfuCore,
    ...(opts.profileDir ? { profileDir: opts.profileDir } : {}),
    nodeArgs: loopLag.nodeArgs,
    env: loopLag.env,
  });
  const peers: ConfabParticipant[] = [];
  const join = async () => {
    for (let i = 0; i < shape.participants; i++) {
      const p = new ConfabParticipant(focus, 'meeting', i, shape, measure);
      peers.push(p);
      await p.join();
    }
    for (const p of peers) await p.connected(30_000);
  };
  const stop = async () => {
    for (const p of peers) p.close();
    await bridge.stop();
    focus.close();
  };
  return assemble('confab', bridge.proc, peers, join, stop, loopLag);
}

export async function janusMeeting(shape: Shape, measure: Measure): Promise<Meeting> {
  const janus = await startJanus(18090, sfuCore);
  const peers: JanusParticipant[] = [];
  const admin = await janus.api.handle();
  const join = async () => {
    const room = 4444;
    await admin.request({
      request: 'create',
      room,
      publishers: shape.publishers + 1,
      bitrate: 3_000_000,
      videocodec: 'vp8',
      audiocodec: 'opus',
    });
    for (let i = 0; i < shape.participants; i++) {
      const p = new JanusParticipant(janus, room, i, shape, measure);
      peers.push(p);
      if (role(shape, i).publishes) await p.publish();
    }
    const feeds = peers.slice(0, shape.publishers).map((p) => p.feed as number);
    for (const p of peers) await p.subscribe(feeds);
  };
  const stop = async () => {
    for (const p of peers) await p.close();
    await admin.close();
    await janus.stop();
  };
  return assemble('janus', janus.proc, peers, join, stop);
}
