/** Calls into the native library, which throws when a track or connection closed meanwhile. */
export function safely(what: () => unknown): boolean {
  try {
    what();
    return true;
  } catch {
    return false;
  }
}
