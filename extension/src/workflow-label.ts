/**
 * What the DAQ panel's scan list says of a scan's workflow (`info.workflow`, workflows/service.ts on the
 * server): its graph and state, and a failure's error — beside the scan, which stays as it was.
 */
export interface WorkflowInfo {
  graph?: string;
  state?: string;
  error?: string | null;
  derived?: string | null;
}

/** `workflow integrate DONE`, `… FAILED: <error, its first 160 characters>`; '' for a scan without one. */
export function workflowLabel(info: Record<string, unknown>): string {
  const wf = info.workflow as WorkflowInfo | undefined;
  if (!wf || typeof wf !== 'object' || typeof wf.state !== 'string') return '';
  const graph = String(wf.graph ?? '').split('/').pop()!.replace(/\.json$/i, '');
  const error = wf.state === 'FAILED' && wf.error ? `: ${wf.error.length > 160 ? `${wf.error.slice(0, 159)}…` : wf.error}` : '';
  return `workflow ${graph} ${wf.state}${error}`;
}
