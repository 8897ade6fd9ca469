/** Rows of either backend to entities, where both store the same columns. */
import type { PublishedData } from './types.js';

export function publishedOf(r: Record<string, string | number | null>): PublishedData {
  return {
    doi: String(r.doi), title: String(r.title), abstract: String(r.abstract), creators: JSON.parse(String(r.creators)) as string[],
    publisher: String(r.publisher), year: Number(r.year), datasets: JSON.parse(String(r.datasets)) as string[],
    status: r.status as PublishedData['status'], created: String(r.created),
    proposal: String(r.proposal ?? ''), kind: r.kind === 'session' ? 'session' : 'dataset', updated: String(r.updated || r.created),
  };
}
