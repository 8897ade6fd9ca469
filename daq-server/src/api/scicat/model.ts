/** Our catalogue entities as SciCat v3 documents (the fields pyscicat and scitacean read). */
import type { Dataset, Proposal, PublishedData, Sample } from '../../catalogue/types.js';

export function scicatDataset(d: Dataset, released: boolean): Record<string, unknown> {
  return {
    pid: d.pid,
    datasetName: d.name,
    type: d.type,
    owner: d.proposal || 'daqlab',
    ownerGroup: d.proposal || d.beamline,
    accessGroups: [d.beamline],
    contactEmail: '',
    sourceFolder: d.folder,
    size: d.size,
    numberOfFiles: d.files.length,
    creationTime: d.created,
    endTime: d.end,
    creationLocation: d.beamline,
    instrumentId: d.beamline,
    description: d.description,
    proposalId: d.proposal,
    sampleId: d.sample,
    isPublished: released,
    keywords: [d.collection].filter(Boolean),
    scientificMetadata: d.metadata,
    ...(d.type === 'derived' ? { inputDatasets: d.sources, usedSoftware: ['daqlab'], investigator: d.proposal || 'daqlab' } : { principalInvestigator: '' }),
  };
}

export function scicatOrigDatablock(d: Dataset): Record<string, unknown> {
  return {
    id: `${d.pid}-files`,
    datasetId: d.pid,
    size: d.size,
    ownerGroup: d.proposal || d.beamline,
    accessGroups: [d.beamline],
    chkAlg: 'sha256',
    dataFileList: d.files.map((f) => ({ path: f.path, size: f.size, time: f.mtime, chk: f.sha256 })),
  };
}

export function scicatProposal(p: Proposal): Record<string, unknown> {
  const pi = p.team.find((m) => m.role === 'principal-investigator');
  return {
    proposalId: p.id,
    title: p.title,
    abstract: p.abstract,
    ownerGroup: p.id,
    accessGroups: [p.beamline],
    pi_firstname: pi?.user ?? '',
    pi_lastname: '',
    pi_email: '',
    email: '',
    startTime: p.start,
    endTime: p.end,
    MeasurementPeriodList: [{ instrument: p.beamline, start: p.start, end: p.end }],
    metadata: { releaseDate: p.releaseDate, team: p.team },
  };
}

export function scicatSample(s: Sample): Record<string, unknown> {
  return { sampleId: s.pid, owner: s.name, description: s.description || s.name, ownerGroup: s.proposal, proposalId: s.proposal, createdAt: s.created, sampleCharacteristics: { name: s.name } };
}

export function scicatPublished(p: PublishedData, landingBase = ''): Record<string, unknown> {
  return {
    doi: p.doi, title: p.title, abstract: p.abstract, creator: p.creators, authors: p.creators, publisher: p.publisher, publicationYear: p.year,
    pidArray: p.datasets, status: p.status, resourceType: 'Dataset', createdAt: p.created, updatedAt: p.updated,
    url: landingBase ? `${landingBase}/doi/${p.doi}` : undefined, dataDescription: p.kind === 'session' ? `the session of proposal ${p.proposal}` : `datasets of proposal ${p.proposal}`,
    registeredTime: p.status === 'draft' ? undefined : p.updated,
  };
}
