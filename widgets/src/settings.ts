/**
 * Front-end overrides of the server address, set by the JupyterLab extension
 * from its settings ("DAQ" → server URL, token). Non-empty values win over
 * what the Python side put in a widget's `server_url`/`token` traits, so a
 * user behind an unusual proxy can fix the address once for every notebook.
 */
export interface FrontendSettings {
  serverUrl: string;
  token: string;
  /** colormap of LiveImages whose own is unset ('') and of the live monitor; '' = viridis */
  colormap: string;
}

export const frontendSettings: FrontendSettings = { serverUrl: '', token: '', colormap: '' };

type SettingsListener = (changed: ReadonlySet<keyof FrontendSettings>) => void;
const settingsListeners = new Set<SettingsListener>();

/**
 * Set the front-end settings (JupyterLab loaded or changed them) and tell the
 * open views which ones changed, so a LiveImage drawn before the settings
 * arrived (or before the user changed them) follows them. Returns the changed keys.
 */
export function updateFrontendSettings(values: Partial<FrontendSettings>): ReadonlySet<keyof FrontendSettings> {
  const changed = new Set<keyof FrontendSettings>();
  for (const key of Object.keys(values) as (keyof FrontendSettings)[]) {
    const v = values[key];
    if (v === undefined || v === frontendSettings[key]) continue;
    frontendSettings[key] = v;
    changed.add(key);
  }
  if (changed.size) for (const l of settingsListeners) l(changed);
  return changed;
}

/** Calls `listener` with the changed keys after each updateFrontendSettings() that changed something; returns the unsubscribe. */
export function onSettingsChanged(listener: SettingsListener): () => void {
  settingsListeners.add(listener);
  return () => settingsListeners.delete(listener);
}

type Listener = (url: string, token: string) => void;
const listeners = new Set<Listener>();
let lastUsed: { url: string; token: string } | null = null;

/** The address a LiveImage last connected with (the DAQ panel follows it when it has no setting). */
export function noteServerUsed(url: string, token: string): void {
  if (lastUsed?.url === url && lastUsed.token === token) return;
  lastUsed = { url, token };
  for (const l of listeners) l(url, token);
}

export function lastServerUsed(): { url: string; token: string } | null {
  return lastUsed;
}

export function onServerUsed(listener: Listener): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

const reconnectListeners = new Set<() => void>();

/** Every LiveImage (and the DAQ panel) drops its connection and connects again (the "reconnect" command). */
export function requestReconnect(): void {
  for (const l of reconnectListeners) l();
}

export function onReconnect(listener: () => void): () => void {
  reconnectListeners.add(listener);
  return () => reconnectListeners.delete(listener);
}
