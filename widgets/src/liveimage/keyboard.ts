/**
 * Keyboard of LiveImage (when the image has the focus: click it or tab to it): ← / → the previous /
 * next frame (from live: the frames before the newest), space pauses and resumes live frames or
 * plays and stops when browsing, End (or L) goes back to live, Home to the first frame.
 */
export interface KeyHost {
  step(delta: number): void;
  toggle(): void;
  live(): void;
  first(): void;
}

export function bindKeys(target: HTMLElement, host: KeyHost): void {
  target.tabIndex = 0;
  // JupyterLab's shortcuts (Lumino, document-level, capture phase) skip events from such elements:
  // a notebook's `l` (line numbers) or arrows in command mode must not act while the image has the focus
  target.setAttribute('data-lm-suppress-shortcuts', '');
  target.addEventListener('keydown', (e) => {
    if (e.altKey || e.ctrlKey || e.metaKey) return;
    const act: Record<string, () => void> = {
      ArrowLeft: () => host.step(-1),
      ArrowRight: () => host.step(1),
      ' ': () => host.toggle(),
      End: () => host.live(),
      l: () => host.live(),
      Home: () => host.first(),
    };
    const f = act[e.key];
    if (!f) return;
    e.preventDefault(); // no page scroll, and JupyterLab's notebook shortcuts stay out of it
    e.stopPropagation();
    f();
  });
}
