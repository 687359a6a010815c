export { BackoffLimiter, type BackoffOptions } from './BackoffLimiter.js';
export { generateEcPem, jwkFromPem, KeyFileError, kidFromFile } from './ecKeys.js';
export { MemoryRateLimiter, type RateDecision, type RateLimiter } from './RateLimiter.js';
export { ReconnectGrace } from './ReconnectGrace.js';
export { loadOrCreateSecret } from './secrets.js';
export { TokenBucket, TokenBuckets } from './TokenBucket.js';
