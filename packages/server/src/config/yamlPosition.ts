import { type Document, isMap, isScalar, isSeq, type LineCounter } from 'yaml';

/**
 * Line and column of the key (or list item) at `keyPath` in a YAML document, or of its nearest
 * ancestor, so an error can point at the line a person has to fix.
 */
export function yamlPosition(
  doc: Document,
  lc: LineCounter,
  keyPath: readonly PropertyKey[],
): { line: number; col: number } | undefined {
  for (let n = keyPath.length; n > 0; n--) {
    const parent = n === 1 ? doc.contents : doc.getIn(keyPath.slice(0, n - 1), true);
    const last = keyPath[n - 1];
    let start: number | undefined;
    if (isMap(parent)) {
      const pair = parent.items.find(
        (p) => isScalar(p.key) && String(p.key.value) === String(last),
      );
      start = pair && isScalar(pair.key) ? pair.key.range?.[0] : undefined;
    } else if (isSeq(parent) && typeof last === 'number') {
      const item = parent.items[last] as { range?: [number, number, number] } | undefined;
      start = item?.range?.[0];
    }
    if (start !== undefined) return lc.linePos(start);
  }
  return undefined;
}
