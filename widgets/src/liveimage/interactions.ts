/**
 * Pointer interactions of LiveImage: wheel to zoom about the cursor, drag to pan (middle button
 * too), double-click to fit, shift+drag to draw a ROI; with the profile tool on, a left drag sets
 * the profile (horizontal / vertical: through the pointer; line: from press to release). The
 * cursor position goes to the readout. The view transform is
 * changed here; the view redraws and renegotiates through the host's callbacks.
 */
import { el } from '../daqview.js';
import type { Roi } from './model.js';
import type { ProfileMode } from './profile.js';
import type { ViewTransform } from './transform.js';

export interface PointerHost {
  readonly transform: ViewTransform;
  /** the transform changed: draw again */
  redraw(): void;
  /** the transform settled (zoom, pan end, fit): maybe ask the server for another region */
  viewChanged(): void;
  addRoi(roi: Roi): void;
  /** the cursor is at (px, py) in the stage (nothing pressed) */
  hover(px: number, py: number): void;
  profileMode(): ProfileMode;
  /** the profile tool moved (`done`: released, tell Python) */
  setProfile(from: { x: number; y: number }, to: { x: number; y: number }, done: boolean): void;
}

/** A dragged rectangle → [row0, col0, rows, cols] in detector pixels, clipped to the frame. */
export function roiFromScreen(t: ViewTransform, x0: number, y0: number, x1: number, y1: number): Roi | null {
  const a = t.toImage(Math.min(x0, x1), Math.min(y0, y1));
  const b = t.toImage(Math.max(x0, x1), Math.max(y0, y1));
  const r0 = Math.max(0, Math.floor(a.y));
  const c0 = Math.max(0, Math.floor(a.x));
  const r1 = Math.min(t.fullRows, Math.ceil(b.y));
  const c1 = Math.min(t.fullCols, Math.ceil(b.x));
  return r1 > r0 && c1 > c0 ? [r0, c0, r1 - r0, c1 - c0] : null;
}

/** Bind the pointer to `stage`; ROI boxes being drawn go into `overlay`. Returns an unbind function. */
export function bindPointer(stage: HTMLElement, overlay: HTMLElement, host: PointerHost): () => void {
  const t = host.transform;
  let drag: { mode: 'pan' | 'roi' | 'profile'; x: number; y: number; cx: number; cy: number; box?: HTMLDivElement } | null = null;
  const local = (e: MouseEvent) => {
    const r = stage.getBoundingClientRect();
    return { px: e.clientX - r.left, py: e.clientY - r.top };
  };
  stage.addEventListener('wheel', (e) => {
    if (!t.fullRows) return;
    e.preventDefault();
    const { px, py } = local(e);
    t.zoomAt(px, py, Math.exp(Math.sign(e.deltaY) * 0.15));
    host.redraw();
    host.viewChanged();
  });
  stage.addEventListener('dblclick', () => {
    t.fit();
    host.redraw();
    host.viewChanged();
  });
  stage.addEventListener('mousedown', (e) => {
    if ((e.button !== 0 && e.button !== 1) || !t.fullRows) return;
    e.preventDefault();
    stage.focus({ preventScroll: true }); // the keyboard shortcuts act on the image clicked last
    const { px, py } = local(e);
    const mode = e.button === 1 ? 'pan' : e.shiftKey ? 'roi' : host.profileMode() !== 'off' ? 'profile' : 'pan';
    drag = { mode, x: px, y: py, cx: t.cx, cy: t.cy };
    if (mode === 'profile') host.setProfile(t.toImage(px, py), t.toImage(px, py), false);
    if (drag.mode === 'roi') {
      drag.box = el('div', 'daqlab-li-roi daqlab-li-roi-drawing');
      overlay.append(drag.box);
    }
  });
  const move = (e: MouseEvent) => {
    const { px, py } = local(e);
    if (!drag) return host.hover(px, py);
    if (drag.mode === 'pan') {
      t.userMoved = true;
      t.cx = drag.cx - (px - drag.x) * t.s;
      t.cy = drag.cy - (py - drag.y) * t.s;
      host.redraw();
    } else if (drag.mode === 'profile') {
      host.setProfile(t.toImage(drag.x, drag.y), t.toImage(px, py), false);
    } else if (drag.box) {
      Object.assign(drag.box.style, {
        left: `${Math.min(px, drag.x)}px`,
        top: `${Math.min(py, drag.y)}px`,
        width: `${Math.abs(px - drag.x)}px`,
        height: `${Math.abs(py - drag.y)}px`,
      });
    }
  };
  const up = (e: MouseEvent) => {
    if (!drag) return;
    const d = drag;
    drag = null;
    d.box?.remove();
    if (d.mode === 'pan') return host.viewChanged();
    const { px, py } = local(e);
    if (d.mode === 'profile') return host.setProfile(t.toImage(d.x, d.y), t.toImage(px, py), true);
    const roi = roiFromScreen(t, d.x, d.y, px, py);
    if (roi) host.addRoi(roi);
  };
  window.addEventListener('mousemove', move);
  window.addEventListener('mouseup', up);
  return () => {
    window.removeEventListener('mousemove', move);
    window.removeEventListener('mouseup', up);
  };
}
