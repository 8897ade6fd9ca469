/**
 * daqlab's commands, in the command palette under "daqlab": open the DAQ panel,
 * open a live monitor of the newest scan, insert the code that opens the newest
 * scan into the active cell, reconnect every view.
 */
import type { ICommandPalette } from '@jupyterlab/apputils';
import { requestReconnect } from '@daqlab/widgets';
import type { DaqPanel, LabApp } from './panel.js';
import type { MonitorChart } from './monitor.js';

export const COMMANDS = {
  openPanel: 'daqlab:open-panel',
  openMonitor: 'daqlab:open-monitor',
  insertScan: 'daqlab:insert-scan-code',
  reconnect: 'daqlab:reconnect',
} as const;

/** The code a notebook needs to open the newest scan, or a given one. */
export function openScanCode(key?: string): string {
  const which = key ? `scans.get(${JSON.stringify(key)})` : 'scans.last()';
  return `import daqlab\nscan = daqlab.connect().${which}\n`;
}

export function addCommands(app: LabApp, panel: DaqPanel, palette: ICommandPalette | null): void {
  app.commands.addCommand(COMMANDS.openPanel, {
    label: 'daqlab: Open the DAQ panel',
    execute: () => app.shell.activateById(panel.id),
  });
  app.commands.addCommand(COMMANDS.openMonitor, {
    label: (args) => (args.scan ? `daqlab: Open a live monitor of ${String(args.scan)}` : 'daqlab: Open a live monitor of the current scan'),
    // args.charts: a chart kind or a list of them ('hitrate', 'profile', 'roistats'); default: the hit rate
    execute: (args) =>
      panel.openMonitor(typeof args.scan === 'string' ? args.scan : '', (args.charts as MonitorChart | MonitorChart[] | undefined) ?? 'hitrate'),
  });
  app.commands.addCommand(COMMANDS.insertScan, {
    label: 'daqlab: Insert code that opens the current scan',
    execute: (args) => panel.insertCode(openScanCode(typeof args.scan === 'string' ? args.scan : undefined)),
  });
  app.commands.addCommand(COMMANDS.reconnect, {
    label: 'daqlab: Reconnect to the daqlab server',
    execute: () => {
      requestReconnect();
      panel.reconnect();
    },
  });
  if (palette) for (const command of Object.values(COMMANDS)) palette.addItem({ command, category: 'daqlab' });
}
