/** OpenAPI 3.1 description of the HTTP endpoints (the WebSocket protocol is in docs/PROTOCOL.md). */
import { VERSION } from '../version.js';
import { icatplusPaths } from './icatplus/openapi.js';

export function openapi(): Record<string, unknown> {
  const json = (description: string, schema: Record<string, unknown> = { type: 'object' }) => ({
    description,
    content: { 'application/json': { schema } },
  });
  const error = json('error', {
    type: 'object',
    properties: { error: { type: 'object', properties: { type: { type: 'string' }, message: { type: 'string' } } } },
  });
  return {
    openapi: '3.1.0',
    info: {
      title: 'daqlab server',
      version: VERSION,
      description:
        'HTTP side of the daqlab acquisition server. Control and data use the WebSocket endpoint /ws (see docs/PROTOCOL.md). A request with an Origin header must come from a loopback origin or one allowed with --allow-origin; on loopback, Host must be a loopback name (403 otherwise).',
    },
    components: {
      securitySchemes: {
        token: {
          type: 'apiKey',
          in: 'header',
          name: 'Authorization',
          description: '"Authorization: token T" (or "Bearer T"). Also accepted as the query ?token=T, for browser WebSockets, which cannot set headers.',
        },
      },
    },
    security: [{ token: [] }],
    paths: {
      '/health': {
        get: { summary: 'liveness', security: [], responses: { '200': json('server is up', { type: 'object', properties: { ok: { const: true } } }), '403': error } },
      },
      '/status': {
        get: { summary: 'server, detectors, store and clients', responses: { '200': json('status'), '401': error, '403': error } },
      },
      '/schema': {
        get: {
          summary: 'JSON schema of prepare parameters',
          parameters: [{ name: 'detector', in: 'query', required: false, schema: { type: 'string' } }],
          responses: { '200': json('schema (all detectors keyed by name when none is given)'), '401': error, '403': error, '404': error },
        },
      },
      '/openapi.json': { get: { summary: 'this description', responses: { '200': json('OpenAPI document'), '401': error, '403': error } } },
      ...icatplusPaths(json, error),
      '/access/path': {
        get: {
          summary: 'may the caller (its token, or a Jupyter user asserted with X-Daqlab-User + X-Daqlab-Jupyter-Secret) read this file?',
          parameters: [{ name: 'path', in: 'query', required: true, schema: { type: 'string' } }],
          responses: { '200': json('{readable, user}'), '400': error, '401': error, '403': error },
        },
      },
      '/ws': { get: { summary: 'WebSocket upgrade: control (JSON text) and data (Arrow binary)', responses: { '101': { description: 'switching protocols' }, '401': error, '403': error } } },
    },
  };
}
