/** A piece of a chat message: text as it is, or a web link. */
export type TextPart = { text: string } | { text: string; href: string };

const linkPattern = /\bhttps?:\/\/[^\s<>"'`]+/gi;
/** Punctuation that ends a sentence rather than a link. */
const trailing = /[.,;:!?)\]}]+$/;

/**
 * A message split into text and links for the chat panel. Only `http:` and `https:` addresses
 * become links (never `javascript:` or `data:`); everything else stays text, which React
 * renders as text: no message is ever taken as markup.
 */
export function linkify(message: string): TextPart[] {
  const parts: TextPart[] = [];
  let at = 0;
  for (const match of message.matchAll(linkPattern)) {
    let url = match[0];
    const cut = url.match(trailing)?.[0].length ?? 0;
    if (cut) url = url.slice(0, -cut);
    const start = match.index ?? 0;
    let href: string | undefined;
    try {
      const u = new URL(url);
      if (u.protocol === 'http:' || u.protocol === 'https:') href = u.href;
    } catch {
      href = undefined;
    }
    if (!href) continue;
    if (start > at) parts.push({ text: message.slice(at, start) });
    parts.push({ text: url, href });
    at = start + url.length;
  }
  if (at < message.length) parts.push({ text: message.slice(at) });
  return parts;
}
