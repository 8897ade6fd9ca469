/** Handlers of the workflow operations: the state of the workflow attached to a scan (workflows/service.ts). */
import type { Request } from '../protocol/index.js';
import { num, str } from './params.js';
import { readableScan } from './scan-access.js';
import type { Session } from './session.js';

type Handler = (session: Session, req: Request) => Promise<unknown> | unknown;

export const WORKFLOW_HANDLERS: Record<'workflow.status' | 'workflow.wait', Handler> = {
  // who may read the scan may see its workflow
  'workflow.status': (s, r) => s.service.workflows.status(readableScan(s, str(r, 'scan')).key),
  'workflow.wait': (s, r) => s.service.workflows.wait(readableScan(s, str(r, 'scan')).key, num(r, 'timeout', 10) as number),
};
