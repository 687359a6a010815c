import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import ndc from 'node-datachannel';
import { silentLogger } from '../logging/index.js';
import { Conference } from './Conference.js';
import { Endpoint, type EndpointReport } from './Endpoint.js';
import { SdpQueue } from './SdpQueue.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

after(() => {
  // node-datachannel's native threads keep the process alive (MediaBridge.test.ts).
  setTimeout(() => process.exit(0), 1000).unref();
});

/**
 * A peer connection whose local description can be made to go missing when the bridge reads
 * it after making an offer (the native side returns null then).
 */
let lose = false;
let lost = 0;
const Native = ndc.PeerConnection;
class LosingPeerConnection extends Native {
  override localDescription(): ReturnType<ndc.PeerConnection['localDescription']> {
    if (!lose) return super.localDescription();
    lost++;
    return null;
  }
}

async function until(what: string, ok: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

function endpoint(conf: Conference, id: string, reports: EndpointReport[]): Endpoint {
  return new Endpoint(
    conf,
    id,
    `user-${id}`,
    { iceServers: [], bindAddress: '127.0.0.1', disableAutoNegotiation: true },
    {
      logger: silentLogger(),
      maxMlines: () => 16,
      lastN: () => -1,
      sdp: new SdpQueue(),
      report: (m) => reports.push(m),
      publish: () => {},
      feedback: () => {},
    },
  );
}

test('an offer whose local description went missing leaves the endpoint stable, and the next change offers', async (t) => {
  ndc.PeerConnection = LosingPeerConnection;
  t.after(() => {
    ndc.PeerConnection = Native;
  });
  const conf = new Conference('c1');
  const reports: EndpointReport[] = [];
  const ep = endpoint(conf, 'e1', reports);
  const other = endpoint(conf, 'e2', []);
  t.after(() => {
    ep.close();
    other.close();
  });

  lose = true;
  ep.negotiate();
  assert.equal(ep.negotiationState, 'awaiting_answer');
  await until('the bridge to read its offer', () => lost > 0);
  assert.equal(ep.negotiationState, 'stable', 'no offer out: nothing waits for an answer');
  assert.equal(reports.filter((m) => m.type === 'offer').length, 0, 'nothing to send');

  lose = false;
  const screen = other.source('screen');
  assert.ok(screen);
  ep.attach(screen);
  ep.negotiate();
  await until('an offer', () => reports.some((m) => m.type === 'offer'));
  assert.equal(ep.negotiationState, 'awaiting_answer');
});
