/** Session descriptions as the bridge sends and takes them: candidates held back, addresses announced. */

/** The payload types the bridge offers; publishers send with them, receivers get them. */
export const payloadTypes = { opus: 111, vp8: 96 } as const;

/** Rewrites host candidates to announce the public address (1:1 NAT in front of the bridge). */
export function announce(sdp: string, address: string): string {
  return sdp.replace(
    /^((?:a=)?candidate:\S+ \d+ \S+ \d+ )(\S+)( \d+ typ host)/gm,
    (_m, head: string, _addr: string, tail: string) => `${head}${address}${tail}`,
  );
}

/**
 * Takes the candidate lines out of an SDP: the SDP without them (nor `a=end-of-candidates`), each
 * candidate (`candidate:…`) with its m-section's mid, and the first mid (the bundle's).
 *
 * The bridge sends offers without its candidates and answers go in without theirs, because
 * libdatachannel 0.24 starts DTLS as soon as ICE connects, even while the answer is still being
 * set; a DTLS client that got there first (its checks answered before the answer arrived) then
 * has its certificate refused ("unknown CA") and the connection is lost. Trickled afterwards,
 * no check can succeed before the answer's fingerprint is in place.
 */
export function takeCandidates(sdp: string): {
  sdp: string;
  candidates: [string, string][];
  mid: string;
} {
  const eol = sdp.includes('\r\n') ? '\r\n' : '\n';
  const sections = sdp.split(/\r?\n(?=m=)/);
  const candidates: [string, string][] = [];
  let first: string | undefined;
  const kept = sections.map((section, i) => {
    const lines = section.split(/\r?\n/);
    const mid =
      i === 0
        ? ''
        : (lines
            .find((l) => l.startsWith('a=mid:'))
            ?.slice(6)
            .trim() ?? '');
    if (i > 0 && first === undefined) first = mid;
    return lines
      .filter((l) => {
        if (l.startsWith('a=candidate:')) {
          candidates.push([l.slice(2).trim(), mid]);
          return false;
        }
        return !l.startsWith('a=end-of-candidates');
      })
      .join(eol);
  });
  return { sdp: kept.join(eol), candidates, mid: first ?? '' };
}

/** The most layers a simulcast group may name (Chromium sends up to three). */
export const maxSimulcastLayers = 3;

/**
 * The SSRCs each m-section's `a=ssrc-group:SIM` names, lowest layer first, by mid (SSRC
 * simulcast, which the web app writes into its answers: media-notes "Simulcast through
 * node-datachannel"). A group with more than `maxSimulcastLayers` SSRCs, a repeated or a
 * malformed one is ignored (the stream is then forwarded as one layer).
 */
export function simulcastGroups(sdp: string): Map<string, number[]> {
  const groups = new Map<string, number[]>();
  for (const section of sdp.split(/\r?\n(?=m=)/).slice(1)) {
    let mid: string | undefined;
    let ssrcs: number[] | undefined;
    for (const line of section.split(/\r?\n/)) {
      if (line.startsWith('a=mid:')) mid = line.slice(6).trim();
      else if (line.startsWith('a=ssrc-group:SIM ') && !ssrcs) {
        const ids = line.slice(17).trim().split(/\s+/).map(Number);
        const valid = ids.every((n) => Number.isInteger(n) && n > 0 && n <= 0xffffffff);
        if (
          valid &&
          ids.length >= 2 &&
          ids.length <= maxSimulcastLayers &&
          new Set(ids).size === ids.length
        )
          ssrcs = ids;
      }
    }
    if (mid !== undefined && ssrcs) groups.set(mid, ssrcs);
  }
  return groups;
}
