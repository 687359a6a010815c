export interface GuestPolicyOptions {
  /** `public_guest_access_regexp`: the room paths guests may join. */
  rooms: string;
  /** The API scopes a guest's token may carry (signaling's; never the address book's). */
  scopes: readonly string[];
  /** `enable_guest_api`: kwm's guest logon answers. */
  logonApi: boolean;
  /** `allow_client_guests`: a registered client's signed request object may bring a guest. */
  clientGuests: boolean;
  /** `allow_guest_only_channels`: a guest may start a room instead of waiting for a user. */
  guestOnlyRooms: boolean;
}

/**
 * What guests may do, decided once from the settings (in main) and handed to each service that
 * lets guests in: the guest logon, the identity provider and signaling ask it rather than the
 * settings, so they cannot disagree.
 */
export class GuestPolicy {
  readonly #rooms: RegExp;
  /** The rooms' pattern as written, for clients that offer guest links (the web app). */
  readonly roomPattern: string;
  readonly #scopes: ReadonlySet<string>;
  readonly logonApi: boolean;
  readonly clientGuests: boolean;
  readonly guestOnlyRooms: boolean;

  constructor(opts: GuestPolicyOptions) {
    this.#rooms = new RegExp(opts.rooms);
    this.roomPattern = opts.rooms;
    this.#scopes = new Set(opts.scopes);
    this.logonApi = opts.logonApi;
    this.clientGuests = opts.clientGuests;
    this.guestOnlyRooms = opts.guestOnlyRooms;
  }

  /** May a guest sign in for, and go on taking part in, the room at this path? */
  roomOpen(path: string): boolean {
    return this.#rooms.test(path);
  }

  /**
   * May the built-in web app invite guests by link? Its guests sign in through the logon API
   * with the web app's own signed request, so both switches must be on.
   */
  get linkGuests(): boolean {
    return this.logonApi && this.clientGuests;
  }

  /** Of these API scopes, the ones a guest is granted. */
  scopesFor(scopes: readonly string[]): string[] {
    return scopes.filter((s) => this.#scopes.has(s));
  }
}
