export { type ConfabProcess, startConfab } from '../../support/confabProcess.js';
export { addUser, callFromContacts, signIn, startCallFromContacts } from './app.js';
export { chromiumArgs, chromiumPath, launchBrowser, openUser, type User } from './browser.js';
export {
  countDecodingVideoStreams,
  pollUntil,
  type RtpTotals,
  rtpTotals,
  waitForDecodingVideo,
} from './media.js';
