/** The landing page a DOI resolves to: title, authors, abstract, files, licence, how to cite. Every value is HTML-escaped. */
import type { Dataset, Proposal, PublishedData } from '../types.js';
import { CC_BY_4 } from './datacite.js';

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string);
}

/** "Curie M., Franklin R. (2026). Title. Publisher. https://doi.org/…" */
export function citation(p: PublishedData): string {
  const authors = p.creators.join(', ') || p.publisher;
  return `${authors} (${p.year}). ${p.title}. ${p.publisher}. https://doi.org/${p.doi}`;
}

const MAX_FILES_SHOWN = 1000;

export function landingPage(p: PublishedData, proposal: Proposal, datasets: Dataset[], released: boolean): string {
  const e = escapeHtml;
  const files = datasets.flatMap((d) => d.files.map((f) => ({ dataset: d.name, ...f })));
  const fileRows = files
    .slice(0, MAX_FILES_SHOWN)
    .map((f) => `<tr><td>${e(f.dataset)}</td><td>${e(f.path.split('/').pop() ?? f.path)}</td><td>${f.size}</td><td><code>${e(f.sha256 ?? '')}</code></td></tr>`)
    .join('\n');
  const licence = released
    ? `<p class="licence">Licence: <a href="${e(CC_BY_4.rightsUri)}">${e(CC_BY_4.rights)} (CC-BY-4.0)</a></p>`
    : `<p class="licence">Under embargo until ${e(proposal.releaseDate.slice(0, 10))}: only the experimental team may read the data; then it is open under CC-BY-4.0.</p>`;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${e(p.title)}</title>
<meta name="citation_title" content="${e(p.title)}">
${p.creators.map((c) => `<meta name="citation_author" content="${e(c)}">`).join('\n')}
<meta name="citation_doi" content="${e(p.doi)}">
</head><body>
<h1>${e(p.title)}</h1>
<p class="doi">DOI <a href="https://doi.org/${e(p.doi)}">${e(p.doi)}</a> (${e(p.status)})</p>
<p class="authors">${p.creators.map(e).join('; ')}</p>
<p class="proposal">Proposal ${e(proposal.id)}, beamline ${e(proposal.beamline)}, ${e(proposal.start.slice(0, 10))} – ${e(proposal.end.slice(0, 10))}</p>
<h2>Abstract</h2>
<p class="abstract">${e(p.abstract)}</p>
${licence}
<h2>Files</h2>
${released ? `<table class="files"><tr><th>dataset</th><th>file</th><th>bytes</th><th>sha256</th></tr>\n${fileRows}</table>${files.length > MAX_FILES_SHOWN ? `<p>… and ${files.length - MAX_FILES_SHOWN} more files</p>` : ''}` : `<p>${files.length} files in ${datasets.length} datasets, listed once released.</p>`}
<h2>How to cite</h2>
<p class="cite">${e(citation(p))}</p>
</body></html>
`;
}
