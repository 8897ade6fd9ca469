/** The ICAT+ endpoints in the server's OpenAPI document (routes.ts serves them). */
type Json = (description: string, schema?: Record<string, unknown>) => Record<string, unknown>;

export function icatplusPaths(json: Json, error: Record<string, unknown>): Record<string, unknown> {
  const params = [
    { name: 'apiKey', in: 'path', required: true, description: 'a daqlab token (--token or the --users file)', schema: { type: 'string' } },
    { name: 'investigationName', in: 'query', required: false, description: 'the proposal', schema: { type: 'string' } },
    { name: 'instrumentName', in: 'query', required: false, description: 'the beamline', schema: { type: 'string' } },
  ];
  const answers = { '200': json('the entry as an ICAT+ event'), '400': error, '401': error, '413': error };
  const tag = { type: 'array', items: { type: 'object', properties: { name: { type: 'string' } } } };
  return {
    '/icatplus/dataacquisition/{apiKey}/notification': {
      post: {
        summary: 'ICAT+: write a logbook entry (what pyicat-plus sends)',
        security: [],
        parameters: params,
        requestBody: json('the event', {
          type: 'object',
          properties: {
            type: { enum: ['annotation', 'notification'] },
            category: { enum: ['info', 'error', 'debug', 'commandline', 'commandLine', 'comment'] },
            content: { type: 'array', items: { type: 'object', properties: { format: { enum: ['plainText', 'html'] }, text: { type: 'string' } } } },
            tag,
            datasetName: { type: 'string' },
            software: { type: 'string' },
            machine: { type: 'string' },
            creationDate: { type: 'string' },
          },
        }),
        responses: answers,
      },
    },
    '/icatplus/dataacquisition/{apiKey}/base64': {
      post: {
        summary: 'ICAT+: attach an image or file to the logbook (a data: URL)',
        security: [],
        parameters: params,
        requestBody: json('the file', { type: 'object', properties: { base64: { type: 'string' }, tag, software: { type: 'string' }, machine: { type: 'string' } } }),
        responses: answers,
      },
    },
  };
}
