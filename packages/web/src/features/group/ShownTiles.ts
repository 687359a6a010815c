import type { GroupView, ShownSize } from '../../calls/GroupController.js';

/** Which participant's video a <video> element shows. */
export interface TileOf {
  user: string;
  source: 'camera' | 'screen';
  stage?: boolean;
}

interface Watched extends TileOf {
  width: number;
  height: number;
  /** Inside the window and every scrolled box around it. */
  visible: boolean;
}

/**
 * The videos the group screen shows and how large, watched with a ResizeObserver (sizes) and
 * an IntersectionObserver (a tile scrolled out of a strip, or off the window, is not shown),
 * reported as one `GroupView` whenever it changes: per participant and source the largest box
 * that shows it, in device pixels, and whether one of them is the stage.
 */
export class ShownTiles {
  readonly #watched = new Map<Element, Watched>();
  readonly #resize: ResizeObserver;
  readonly #intersect: IntersectionObserver;
  #last = '';

  constructor(private readonly onChange: (view: GroupView) => void) {
    this.#resize = new ResizeObserver((entries) => {
      for (const e of entries) {
        const w = this.#watched.get(e.target);
        if (!w) continue;
        w.width = e.contentRect.width;
        w.height = e.contentRect.height;
      }
      this.#report();
    });
    this.#intersect = new IntersectionObserver((entries) => {
      for (const e of entries) {
        const w = this.#watched.get(e.target);
        if (w) w.visible = e.isIntersecting;
      }
      this.#report();
    });
  }

  /** Watches one video element; the returned function stops (its tile went away). */
  observe(el: Element, tile: TileOf): () => void {
    const rect = el.getBoundingClientRect();
    this.#watched.set(el, { ...tile, width: rect.width, height: rect.height, visible: false });
    this.#resize.observe(el);
    this.#intersect.observe(el);
    return () => {
      this.#resize.unobserve(el);
      this.#intersect.unobserve(el);
      this.#watched.delete(el);
      this.#report();
    };
  }

  disconnect(): void {
    this.#resize.disconnect();
    this.#intersect.disconnect();
    this.#watched.clear();
  }

  #report(): void {
    const view = this.view();
    const json = JSON.stringify(view);
    if (json === this.#last) return;
    this.#last = json;
    this.onChange(view);
  }

  /** What is shown now. */
  view(): GroupView {
    const ratio = window.devicePixelRatio || 1;
    const view: GroupView = {};
    for (const w of this.#watched.values()) {
      if (!w.visible || w.width <= 0 || w.height <= 0) continue;
      const entry = view[w.user] ?? {};
      view[w.user] = entry;
      const had: ShownSize | undefined = entry[w.source];
      const size: ShownSize = {
        width: Math.max(had?.width ?? 0, Math.round(w.width * ratio)),
        height: Math.max(had?.height ?? 0, Math.round(w.height * ratio)),
      };
      if (w.stage || had?.stage) size.stage = true;
      entry[w.source] = size;
    }
    return view;
  }
}
