/**
 * The picture of LiveImage as a PNG: the image with its overlays, axes, colour bar and (when shown)
 * the profile plot, composed onto one canvas from what the view shows — each canvas drawn where it
 * lies on the page, ROI boxes and the text labels of the DOM (ROI names and statistics, colour bar
 * values and title) written at their places — under a title line naming the scan and frame.
 */
const TITLE = 20;

/** Compose the elements under `root` (`area`: the region to capture) into a canvas. */
export function composePicture(root: HTMLElement, area: HTMLElement[], title: string): HTMLCanvasElement {
  const dpr = window.devicePixelRatio || 1;
  const rects = area.filter((a) => a.offsetParent !== null).map((a) => a.getBoundingClientRect());
  const left = Math.min(...rects.map((r) => r.left));
  const top = Math.min(...rects.map((r) => r.top));
  const right = Math.max(...rects.map((r) => r.right));
  const bottom = Math.max(...rects.map((r) => r.bottom));
  const out = document.createElement('canvas');
  out.width = Math.round((right - left) * dpr);
  out.height = Math.round((bottom - top + TITLE) * dpr);
  const ctx = out.getContext('2d')!;
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  const style = getComputedStyle(root);
  ctx.fillStyle = style.backgroundColor && style.backgroundColor !== 'rgba(0, 0, 0, 0)' ? style.backgroundColor : '#fff';
  ctx.fillRect(0, 0, right - left, bottom - top + TITLE);
  const fg = style.color || '#000';
  ctx.fillStyle = fg;
  ctx.font = 'bold 12px sans-serif';
  ctx.textBaseline = 'middle';
  ctx.fillText(title, 4, TITLE / 2);
  const at = (r: DOMRect) => [r.left - left, r.top - top + TITLE, r.width, r.height] as const;
  for (const a of area) {
    if (a.offsetParent === null) continue;
    // the image's background (a canvas leaves transparent what the frame does not cover)
    for (const stage of a.querySelectorAll<HTMLElement>('.daqlab-li-stage')) {
      ctx.fillStyle = getComputedStyle(stage).backgroundColor || '#111';
      ctx.fillRect(...at(stage.getBoundingClientRect()));
    }
    for (const c of a.querySelectorAll('canvas')) {
      const r = c.getBoundingClientRect();
      if (!r.width || !r.height || c.offsetParent === null || getComputedStyle(c).visibility === 'hidden') continue;
      ctx.imageSmoothingEnabled = false;
      ctx.drawImage(c, ...at(r));
    }
    for (const box of a.querySelectorAll<HTMLElement>('.daqlab-li-roi')) {
      const [x, y, w, h] = at(box.getBoundingClientRect());
      ctx.strokeStyle = '#ff4081';
      ctx.lineWidth = 1;
      ctx.strokeRect(x + 0.5, y + 0.5, w - 1, h - 1);
    }
    for (const label of a.querySelectorAll<HTMLElement>('.daqlab-li-roi-label, .daqlab-li-roi-stats, .daqlab-li-barlabels span, .daqlab-li-bartitle')) {
      const [x, y, w, h] = at(label.getBoundingClientRect());
      const s = getComputedStyle(label);
      if (s.backgroundColor && s.backgroundColor !== 'rgba(0, 0, 0, 0)') {
        ctx.fillStyle = s.backgroundColor;
        ctx.fillRect(x, y, w, h);
      }
      ctx.fillStyle = s.color || fg;
      ctx.font = `${s.fontWeight} ${s.fontSize} sans-serif`;
      ctx.textBaseline = 'middle';
      if (s.writingMode.startsWith('vertical')) {
        // the colour bar's title, read bottom to top
        ctx.save();
        ctx.translate(x + w / 2, y + h / 2);
        ctx.rotate(-Math.PI / 2);
        ctx.textAlign = 'center';
        ctx.fillText(label.textContent ?? '', 0, 0);
        ctx.restore();
      } else {
        ctx.fillText(label.textContent ?? '', x + 2, y + h / 2);
      }
    }
  }
  return out;
}

export function pngBytes(canvas: HTMLCanvasElement): Uint8Array {
  const url = canvas.toDataURL('image/png');
  const b64 = atob(url.slice(url.indexOf(',') + 1));
  const out = new Uint8Array(b64.length);
  for (let i = 0; i < b64.length; i++) out[i] = b64.charCodeAt(i);
  return out;
}

export function download(bytes: Uint8Array, name: string): void {
  const a = document.createElement('a');
  a.href = URL.createObjectURL(new Blob([bytes as unknown as BlobPart], { type: 'image/png' }));
  a.download = name;
  a.click();
  setTimeout(() => URL.revokeObjectURL(a.href), 1000);
}
