export { clientPublicJwks, loadClientRegistry, type RegisteredClient } from './ClientRegistry.js';
export {
  apiScopes,
  buildClients,
  Identity,
  type IdentityOptions,
  identityRoutes,
} from './Identity.js';
export { requireToken } from './requireToken.js';
export {
  publicJwk,
  SigningKeys,
  type StoredKey,
  signingAlgorithms,
  signingKeysFile,
} from './SigningKeys.js';
export {
  type AccessToken,
  maxClockSkew,
  TokenChecker,
  TokenError,
  type TokenErrorCode,
} from './TokenChecker.js';
