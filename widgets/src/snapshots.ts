/**
 * The pictures other parts of the page can take of the views on it: each LiveImage and chart offers
 * one, and the Logbook panel's "attach view" takes the picture of the view a person used last (clicked,
 * focused), else of the newest one shown. Only views attached and visible count.
 */
export interface Snapshot {
  /** a file name for the picture (`<scan>-frame12.png`) */
  name: string;
  png: Blob;
}

export interface SnapshotSource {
  readonly el: HTMLElement;
  /** whether there is something to picture now (a frame drawn, a chart plotted) */
  ready(): boolean;
  take(): Promise<Snapshot>;
}

interface Offered {
  source: SnapshotSource;
  /** when it was last used (or offered): the largest is the current one */
  used: number;
}

const offered = new Set<Offered>();
let clock = 0;

/** Offer `source`'s picture; returns what withdraws it (call it when the view is removed). */
export function offerSnapshot(source: SnapshotSource): () => void {
  const entry: Offered = { source, used: ++clock };
  const touch = () => (entry.used = ++clock);
  source.el.addEventListener('pointerdown', touch, true);
  source.el.addEventListener('focusin', touch, true);
  offered.add(entry);
  return () => {
    offered.delete(entry);
    source.el.removeEventListener('pointerdown', touch, true);
    source.el.removeEventListener('focusin', touch, true);
  };
}

/** The view whose picture "attach view" takes now, or null when no view on the page has one. */
export function currentSnapshotSource(): SnapshotSource | null {
  let best: Offered | null = null;
  for (const o of offered) {
    const shown = o.source.el.isConnected && o.source.el.offsetParent !== null;
    if (shown && o.source.ready() && (!best || o.used > best.used)) best = o;
  }
  return best?.source ?? null;
}

/** A PNG `data:` URL (what Plotly and canvases give) as a Blob. */
export function dataUrlBlob(url: string): Blob {
  const comma = url.indexOf(',');
  const mime = /^data:([^;,]+)/.exec(url)?.[1] ?? 'application/octet-stream';
  const meta = url.slice(0, comma);
  const body = url.slice(comma + 1);
  if (!meta.endsWith(';base64')) return new Blob([decodeURIComponent(body)], { type: mime });
  const bin = atob(body);
  const bytes = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
  return new Blob([bytes], { type: mime });
}
