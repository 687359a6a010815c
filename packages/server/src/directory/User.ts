/** A member of the organisation, as every part of Confab sees them. */
export interface User {
  /** Stable id: the OIDC subject, the address-book id and the RTM user id (SPEC §1). */
  id: string;
  /** What they sign in with. */
  username: string;
  displayName: string;
  mail: string;
  jobTitle: string;
}

export interface UserQuery {
  /** Case-insensitive substring of display name, mail or username. */
  search?: string;
  top: number;
  skip: number;
}

/** The directory port: the identity provider and the address book read users through it. */
export interface UserStore {
  readonly kind: 'builtin' | 'ldap';
  /** The user when the password is right; undefined otherwise (no hint which part was wrong). */
  authenticate(username: string, password: string): Promise<User | undefined>;
  findById(id: string): Promise<User | undefined>;
  /**
   * Which of these ids are users now: for checking open sessions. A directory that cannot
   * answer throws `DirectoryError` (nobody is taken for removed because the directory is down).
   */
  existing(ids: readonly string[]): Promise<Set<string>>;
  /**
   * Calls `onChange` soon after another process changed the directory (`confab user remove`),
   * where the store can tell; returns the function that stops watching.
   */
  watch?(onChange: () => void): () => void;
  search(query: UserQuery): Promise<User[]>;
  close(): Promise<void>;
}
