/** The few DOM helpers every side panel uses (plain DOM on Lumino widgets: no framework). */

/** A `tag` element with a class and a text. */
export function el<K extends keyof HTMLElementTagNameMap>(tag: K, cls = '', text = ''): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text) e.textContent = text;
  return e;
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Fill `box` with one node per item, or one line (an `li` in a list) saying there is nothing: `empty`. */
export function renderList<T>(box: HTMLElement, items: readonly T[], row: (item: T) => Node, empty: string, emptyClass = 'daqlab-panel-empty'): void {
  box.replaceChildren(...items.map(row));
  if (!items.length) box.append(el(box.tagName === 'UL' || box.tagName === 'OL' ? 'li' : 'div', emptyClass, empty));
}
