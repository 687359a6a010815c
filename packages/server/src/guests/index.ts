export { GuestClients } from './GuestClients.js';
export {
  type GuestLogonOptions,
  guestRequestTtlSeconds,
  registerGuestLogon,
} from './GuestLogon.js';
export { GuestPolicy, type GuestPolicyOptions } from './GuestPolicy.js';
export { type Guest, GuestStore } from './GuestStore.js';
export { guestKeyFile, guestRequestAlg, loadOrCreateGuestKey } from './keys.js';
export {
  asksForGuest,
  cleanGuestName,
  type GuestClaims,
  guestClaimsParameter,
  guestIdPattern,
  guestNameMaxLength,
  guestPassthruKey,
  guestScope,
  isGuestId,
  newGuestId,
  randomGuestName,
  readGuestClaims,
} from './request.js';
