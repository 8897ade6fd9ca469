/**
 * Entry content: whatever format it is written in, it is kept as written and as
 * sanitised HTML (safe to put in a page) and as plain text (for search). HTML is
 * cleaned by an allow-list (npm sanitize-html): no scripts, styles, event handlers
 * or javascript: URLs survive; Markdown is rendered (npm marked) and then cleaned the same way.
 */
import sanitizeHtml from 'sanitize-html';
import { marked } from 'marked';
import type { LogbookFormat } from '../protocol/index.js';

const HTML_OPTIONS: sanitizeHtml.IOptions = {
  allowedTags: [
    ...sanitizeHtml.defaults.allowedTags.filter((t) => t !== 'style'),
    'img', 'h1', 'h2', 'del', 's', 'sub', 'sup', 'span',
  ],
  allowedAttributes: {
    a: ['href', 'title'],
    img: ['src', 'alt', 'title', 'width', 'height'],
    td: ['colspan', 'rowspan'],
    th: ['colspan', 'rowspan'],
    code: ['class'],
    span: ['class'],
  },
  // links to the web and mail only; images may also be inline (pasted screenshots) or relative (attachments)
  allowedSchemes: ['http', 'https', 'mailto'],
  allowedSchemesByTag: { img: ['http', 'https', 'data'] },
  allowProtocolRelative: false,
  disallowedTagsMode: 'discard',
};

/** HTML that cannot run anything. */
export function cleanHtml(html: string): string {
  return sanitizeHtml(html, HTML_OPTIONS);
}

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', '#39': "'", apos: "'", nbsp: ' ' };

/** The words of an HTML fragment (tags dropped, blocks on their own lines). */
export function htmlText(html: string): string {
  const spaced = html.replace(/<\/(p|div|li|h\d|tr|pre|blockquote)>|<br\s*\/?>/gi, '$&\n');
  return sanitizeHtml(spaced, { allowedTags: [], allowedAttributes: {} })
    .replace(/&(amp|lt|gt|quot|#39|apos|nbsp);/g, (_, e: string) => ENTITIES[e])
    .replace(/\n{3,}/g, '\n\n')
    .trim();
}

const escape = (s: string): string =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

export interface Rendered {
  /** what is stored as the content: as written, except HTML, which is kept only sanitised */
  content: string;
  html: string;
  text: string;
}

export function render(format: LogbookFormat, content: string): Rendered {
  switch (format) {
    case 'plainText':
      return { content, html: `<p>${escape(content).replace(/\n/g, '<br>')}</p>`, text: content };
    case 'markdown': {
      const html = cleanHtml(marked.parse(content, { async: false, gfm: true }));
      return { content, html, text: htmlText(html) };
    }
    case 'html': {
      const html = cleanHtml(content);
      return { content: html, html, text: htmlText(html) };
    }
  }
}
