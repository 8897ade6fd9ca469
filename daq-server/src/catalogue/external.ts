/**
 * Datasets, their files and samples that other software registers (SciCat's `POST Datasets`,
 * `POST Datasets/{pid}/origdatablocks`, `POST Samples`, as pyscicat and scitacean send them), with
 * the same rules as daqlab's own capture: a registered proposal the writer may write to (members,
 * staff of its beamline, automation), files confined to that proposal's folder under the data root,
 * every wrong field named. Field names are SciCat's; what is stored is daqlab's model.
 */
import { isAbsolute, normalize, relative, resolve, sep } from 'node:path';
import { canWrite, type Principal } from '../access/index.js';
import type { Catalogue } from './service.js';
import type { DataFile, Dataset, Sample } from './types.js';
import { err } from './errors.js';
import { newPid } from './capture.js';

type Body = Record<string, unknown>;

/** files one origdatablock may list */
export const MAX_DATAFILES = 10_000;
const MAX_TEXT = 10_000;

function text(b: Body, field: string, required = false, max = MAX_TEXT): string {
  const v = b[field];
  if (v === undefined || v === null) {
    if (required) throw err('ParameterError', `${field}: required`, field);
    return '';
  }
  if (typeof v !== 'string' || v.length > max) throw err('ParameterError', `${field}: expected text of at most ${max} characters`, field);
  return v;
}

function when(b: Body, field: string): string | null {
  const v = b[field];
  if (v === undefined || v === null) return null;
  const d = typeof v === 'string' ? new Date(v) : null;
  if (!d || Number.isNaN(d.getTime())) throw err('ParameterError', `${field}: expected an ISO 8601 time, got ${JSON.stringify(v).slice(0, 60)}`, field);
  return d.toISOString();
}

function count(b: Body, field: string): number {
  const v = b[field];
  if (v === undefined || v === null) return 0;
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw err('ParameterError', `${field}: expected a byte count (a non-negative integer)`, field);
  return v;
}

/** The first of a v4 list field (`proposalIds`, `sampleIds`) as its v3 single field. */
function single(b: Body, one: string, list: string): Body {
  const v = b[list];
  if (b[one] === undefined && Array.isArray(v)) {
    if (v.length > 1) throw err('ParameterError', `${list}: daqlab keeps one per dataset, got ${v.length}`, list);
    return { ...b, [one]: v[0] };
  }
  return b;
}

/** The proposal a SciCat document names (proposalId or v4's proposalIds, else ownerGroup), which `p` must be allowed to write to. */
async function writableProposal(cat: Catalogue, p: Principal, body: Body): Promise<string> {
  const b = single(body, 'proposalId', 'proposalIds');
  const field = b.proposalId !== undefined ? 'proposalId' : 'ownerGroup';
  const id = text(b, field, true, 64);
  await cat.requireWrite(p, id); // refused as the catalogue refuses: the same whether it exists or not
  return id;
}

/** `path` (absolute, or relative to `base`) when it lies in the proposal's folder; otherwise refused, naming `field`. */
function confined(cat: Catalogue, proposal: string, path: string, base: string | null, field: string): string {
  const abs = normalize(isAbsolute(path) ? path : base ? resolve(base, path) : '');
  const folder = normalize(`${cat.root}${sep}${proposal}`);
  const rel = abs ? relative(folder, abs) : '..';
  if (rel.startsWith('..') || isAbsolute(rel) || path.includes('\0')) {
    throw err('ParameterError', `${field}: ${JSON.stringify(path.slice(0, 200))} is not in the folder of proposal ${proposal} (${folder})`, field);
  }
  return abs;
}

/**
 * POST Datasets: a dataset of a proposal, without files yet (they come as origdatablocks).
 * `dryRun`: checked only (v4's `datasets/isValid`, which scitacean asks first).
 */
export async function createDataset(cat: Catalogue, p: Principal, body: Body, dryRun = false): Promise<Dataset> {
  const proposal = await writableProposal(cat, p, body);
  const b = single(body, 'sampleId', 'sampleIds');
  const prop = (await cat.repo.proposal(proposal))!;
  const type = b.type === undefined ? 'raw' : b.type;
  if (type !== 'raw' && type !== 'derived') throw err('ParameterError', `type: expected raw or derived, got ${JSON.stringify(type).slice(0, 40)}`, 'type');
  const sampleId = text(b, 'sampleId', false, 200);
  let sample = '';
  if (sampleId) {
    const s = (await cat.repo.sampleByPid(sampleId)) ?? (await cat.repo.sample(proposal, sampleId));
    if (!s || s.proposal !== proposal) throw err('ParameterError', `sampleId: no sample ${JSON.stringify(sampleId)} in proposal ${proposal}`, 'sampleId');
    sample = s.name;
  }
  const sources: string[] = [];
  const inputs = b.inputDatasets;
  if (inputs !== undefined) {
    if (!Array.isArray(inputs) || inputs.length > 1000 || !inputs.every((x) => typeof x === 'string')) throw err('ParameterError', 'inputDatasets: expected a list of dataset pids', 'inputDatasets');
    for (const pid of inputs as string[]) sources.push((await cat.dataset(p, pid)).pid); // each must be readable by the writer
  }
  const meta = b.scientificMetadata;
  if (meta !== undefined && (typeof meta !== 'object' || meta === null || Array.isArray(meta))) throw err('ParameterError', 'scientificMetadata: expected an object', 'scientificMetadata');
  const name = text(b, 'datasetName', true, 256);
  const d: Dataset = {
    pid: newPid(),
    name,
    type,
    proposal,
    sample,
    beamline: prop.beamline,
    collection: '',
    title: name,
    description: text(b, 'description'),
    created: when(b, 'creationTime') ?? cat.now().toISOString(),
    end: when(b, 'endTime'),
    scanKey: null,
    folder: confined(cat, proposal, text(b, 'sourceFolder', true, 4096), null, 'sourceFolder'),
    metadata: { ...((meta as Body) ?? {}), registeredBy: p.name, via: 'scicat' },
    sources,
    files: [],
    size: count(b, 'size'),
  };
  if (!dryRun) await cat.repo.addDataset(d);
  return d;
}

/** POST Datasets/{pid}/origdatablocks: files of a dataset (added to those it has; one path listed once). */
export async function addOrigDatablock(cat: Catalogue, p: Principal, pid: string, b: Body): Promise<Dataset> {
  const d = await cat.dataset(p, pid);
  const prop = await cat.repo.proposal(d.proposal);
  if (!prop || !canWrite(p, { id: prop.id, beamline: prop.beamline, team: prop.team.map((m) => m.user), releaseDate: new Date(prop.releaseDate) })) {
    throw err('AuthError', `dataset ${pid}: ${p.name} may read it but not add files to it (members, staff, automation)`, 'pid');
  }
  const list = b.dataFileList;
  if (!Array.isArray(list) || list.length === 0 || list.length > MAX_DATAFILES) throw err('ParameterError', `dataFileList: expected a list of 1 to ${MAX_DATAFILES} files`, 'dataFileList');
  const files: DataFile[] = list.map((f, i) => {
    const field = `dataFileList[${i}]`;
    if (typeof f !== 'object' || f === null) throw err('ParameterError', `${field}: expected {path, size, time, chk}`, field);
    const e = f as Body;
    const chk = typeof e.chk === 'string' && /^[0-9a-f]{64}$/i.test(e.chk) ? e.chk.toLowerCase() : null;
    return { path: confined(cat, d.proposal, text(e, 'path', true, 4096), d.folder, `${field}.path`), size: count(e, 'size'), sha256: chk, mtime: when(e, 'time') };
  });
  await cat.repo.addDatafiles(d.pid, files);
  return cat.dataset(p, pid);
}

/** POST Samples: a sample of a proposal; a name already used there is refused (SciCat: sampleId exists). */
export async function createSample(cat: Catalogue, p: Principal, b: Body): Promise<Sample> {
  const proposal = await writableProposal(cat, p, b);
  const chars = b.sampleCharacteristics as Body | undefined;
  const name = text(b, 'sampleId', false, 64) || (typeof chars?.name === 'string' ? chars.name : '') || text(b, 'description', false, 64);
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/.test(name)) throw err('ParameterError', `sampleId: expected a sample name of letters, digits, . _ - (at most 64), got ${JSON.stringify(name)}`, 'sampleId');
  if (await cat.repo.sample(proposal, name)) throw err('StateError', `sampleId: proposal ${proposal} already has a sample ${name}`, 'sampleId');
  return cat.addSample(p, proposal, name, text(b, 'description'));
}
