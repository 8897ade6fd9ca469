import assert from 'node:assert/strict';
import { test } from 'node:test';
import { frontendSettings, onSettingsChanged, updateFrontendSettings } from '../src/settings.js';

test('updateFrontendSettings: sets the values and tells the listeners which changed', () => {
  const seen: string[][] = [];
  const stop = onSettingsChanged((changed) => seen.push([...changed].sort()));
  try {
    assert.deepEqual([...updateFrontendSettings({ serverUrl: 'proxy/1/ws', token: '', colormap: 'gray' })].sort(), ['colormap', 'serverUrl']);
    assert.equal(frontendSettings.colormap, 'gray');
    assert.equal(frontendSettings.serverUrl, 'proxy/1/ws');
    // the same values again (JupyterLab's `changed` fires for any plugin key): no notification
    assert.equal(updateFrontendSettings({ serverUrl: 'proxy/1/ws', token: '', colormap: 'gray' }).size, 0);
    updateFrontendSettings({ colormap: 'viridis' });
    assert.deepEqual(seen, [['colormap', 'serverUrl'], ['colormap']]);
  } finally {
    stop();
  }
  // unsubscribed: no more calls
  updateFrontendSettings({ colormap: '' });
  assert.equal(seen.length, 2);
  assert.equal(frontendSettings.colormap, '');
  updateFrontendSettings({ serverUrl: '' });
});
