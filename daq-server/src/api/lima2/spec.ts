/** `--lima2 NAME[:PORT]`: which detector is served as a LIMA2 system, and on which port. */
/** LIMA2's default conductor port (webservice/webapp.py DEFAULT_PORT) */
export const LIMA2_DEFAULT_PORT = 58712;
/** `NAME[:PORT]` of --lima2 */
export function parseLima2Spec(spec: string): { detector: string; port: number } {
  const m = /^([^:\s]+)(?::(\d{1,5}))?$/.exec(spec.trim());
  const port = m?.[2] !== undefined ? Number(m[2]) : LIMA2_DEFAULT_PORT;
  if (!m || port > 65535) throw new Error(`--lima2: expected NAME[:PORT] (a detector and a port 0-65535, default ${LIMA2_DEFAULT_PORT}), got ${JSON.stringify(spec)}`);
  return { detector: m[1], port };
}

