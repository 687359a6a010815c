import fc from 'fast-check';

/**
 * Frames for fuzzing the bridge control protocol from either end (test/hostile.test.ts,
 * test/hostileFocus.test.ts): valid messages, and messages one step from valid, which reach
 * deeper than random JSON (a strict schema refuses almost every random object at its first key).
 */

/** Values no field expects: huge and odd numbers, an oversized string, nested junk. */
export const junkValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }),
  fc.constantFrom(1e308, -1, 0, 2 ** 53, 2 ** 60, 0.5, null, true, '', [], {}),
  fc.constant('q'.repeat(300_000)),
);

/**
 * A valid message as it is, or with one field dropped, one field replaced by junk, a field
 * too many, or another message's type: JSON text.
 */
export function almostValid(
  valid: fc.Arbitrary<Record<string, unknown>>,
  types: readonly string[],
): fc.Arbitrary<string> {
  return valid
    .chain((m) => {
      const keys = Object.keys(m).filter((k) => k !== 'type');
      const without = (k: string) => Object.fromEntries(Object.entries(m).filter(([x]) => x !== k));
      return fc.oneof(
        { weight: 3, arbitrary: fc.constant(m) },
        { weight: 1, arbitrary: fc.constantFrom(...keys).map(without) },
        {
          weight: 3,
          arbitrary: fc
            .tuple(fc.constantFrom(...keys), junkValue)
            .map(([k, v]) => ({ ...m, [k]: v })),
        },
        { weight: 1, arbitrary: junkValue.map((v) => ({ ...m, extra: v })) },
        { weight: 1, arbitrary: fc.constantFrom(...types).map((type) => ({ ...m, type })) },
      );
    })
    .map((o) => JSON.stringify(o));
}

/** Frames of every kind: mostly almost valid, then random JSON, random text and binary. */
export function controlFrames(almost: fc.Arbitrary<string>): fc.Arbitrary<string | Buffer> {
  return fc.oneof(
    { weight: 6, arbitrary: almost },
    { weight: 2, arbitrary: fc.json() },
    { weight: 1, arbitrary: fc.string() },
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: 64 }).map((b) => Buffer.from(b)) },
  );
}
