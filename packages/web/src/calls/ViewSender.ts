import {
  type MediaChannelClientMessage,
  type MediaChannelServerMessage,
  maxMediaChannelMessage,
  maxViewsPerSecond,
  maxViewTiles,
  mediaChannelServerSchema,
  type ViewMessage,
} from '@confab/protocol';

/** The tiles of a `view`, by mid. */
export type ViewTiles = ViewMessage['tiles'];

/** What the bridge tells this client on the media channel (its errors are only logged). */
export type BridgeMediaMessage = Exclude<MediaChannelServerMessage, { type: 'error' }>;

/** How long the tiles' sizes must hold still before they are sent (a resize in progress). */
export const viewDebounceMs = 250;
/**
 * The least time between two `view`s: half the bridge's limit, so that timers firing late or
 * early never cross it.
 */
export const viewIntervalMs = 2000 / maxViewsPerSecond;

/**
 * Tells the bridge over the media channel what this receiver shows (docs/bridge.md "Media
 * channel"): the tiles `compute` gives at the time of sending, when the channel opens, at once
 * when what is forwarded changed (`changed(true)`), and `viewDebounceMs` after the last change
 * of sizes otherwise; never one `view` the same as the last, nor two within `viewIntervalMs`.
 * What the bridge says on the channel is checked against the protocol's schema: `forwarded`
 * and `publish` go to `received`, its errors and anything that does not fit are logged and
 * dropped.
 */
export class ViewSender {
  #channel: RTCDataChannel | undefined;
  /** The last `view` sent on this channel, as sent. */
  #last = '';
  #lastAt = Number.NEGATIVE_INFINITY;
  #timer: ReturnType<typeof setTimeout> | undefined;
  /** When the pending timer fires (for an immediate change to come sooner). */
  #due = Number.POSITIVE_INFINITY;

  /** `compute`: the tiles to send now; undefined while the screen has not said what it shows. */
  constructor(
    private readonly compute: () => ViewTiles | undefined,
    private readonly received: (message: BridgeMediaMessage) => void = () => {},
  ) {}

  /** The bridge's data channel of a new session: what it shows goes out once it is open. */
  attach(channel: RTCDataChannel): void {
    this.detach();
    this.#channel = channel;
    channel.onopen = () => this.changed(true);
    channel.onmessage = (e: MessageEvent) => {
      const message = parseBridgeMessage(e.data);
      if (message) this.received(message);
    };
    if (channel.readyState === 'open') this.changed(true);
  }

  /** The session ended: nothing more goes out on its channel. */
  detach(): void {
    this.#clearTimer();
    const channel = this.#channel;
    this.#channel = undefined;
    this.#last = '';
    this.#lastAt = Number.NEGATIVE_INFINITY;
    if (channel) {
      channel.onopen = null;
      channel.onmessage = null;
    }
  }

  /** Something the view depends on changed; `now`: not a resize (new mids, the window hidden). */
  changed(now = false): void {
    if (!this.#channel) return;
    const at = Math.max(Date.now() + (now ? 0 : viewDebounceMs), this.#lastAt + viewIntervalMs);
    // A resize moves the pending send later; an immediate change only ever brings it sooner.
    if (this.#timer !== undefined && now && at >= this.#due) return;
    this.#clearTimer();
    this.#due = at;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#due = Number.POSITIVE_INFINITY;
      this.#send();
    }, at - Date.now());
  }

  #send(): void {
    const channel = this.#channel;
    if (channel?.readyState !== 'open') return;
    const tiles = this.compute();
    if (!tiles) return;
    const message: MediaChannelClientMessage = { type: 'view', tiles: fit(tiles) };
    const text = JSON.stringify(message);
    if (text === this.#last) return;
    try {
      channel.send(text);
    } catch {
      return; // closing: the next session's channel says it again
    }
    this.#last = text;
    this.#lastAt = Date.now();
  }

  #clearTimer(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#due = Number.POSITIVE_INFINITY;
  }
}

/**
 * The tiles within the protocol's limits: past `maxViewTiles` or `maxMediaChannelMessage`, the
 * smallest go first (the stage never), so that a huge room still gets its big tiles right.
 */
function fit(tiles: ViewTiles): ViewTiles {
  const entries = Object.entries(tiles).sort(
    ([, a], [, b]) =>
      Number(!!b.stage) - Number(!!a.stage) || b.width * b.height - a.width * a.height,
  );
  let kept = entries.slice(0, maxViewTiles);
  const size = (t: typeof kept) =>
    new TextEncoder().encode(JSON.stringify({ type: 'view', tiles: Object.fromEntries(t) })).length;
  while (kept.length > 0 && size(kept) > maxMediaChannelMessage) kept = kept.slice(0, -1);
  return kept.length === entries.length ? tiles : Object.fromEntries(kept);
}

/** A bridge message as the schema takes it; an error or anything else is logged, not returned. */
function parseBridgeMessage(data: unknown): BridgeMediaMessage | undefined {
  let parsed: unknown;
  try {
    parsed = typeof data === 'string' ? JSON.parse(data) : undefined;
  } catch {
    parsed = undefined;
  }
  const message = mediaChannelServerSchema.safeParse(parsed);
  if (!message.success) {
    // A bridge of another version: what it says is dropped, the call goes on.
    console.warn('media channel: unexpected message from the bridge', data);
    return undefined;
  }
  if (message.data.type === 'error') {
    console.warn(`media channel: the bridge refused a view (${message.data.code})`);
    return undefined;
  }
  return message.data;
}
