export { bridgePids, type ConfabProcess, startConfab } from '../../support/confabProcess.js';
export {
  addUser,
  callFromContacts,
  joinGroupByLink,
  joinGroupFromNewCall,
  participantNames,
  setMicrophone,
  signIn,
  startCallFromContacts,
} from './app.js';
export { chromiumArgs, chromiumPath, launchBrowser, openUser, type User } from './browser.js';
export {
  audioFlow,
  audioFrom,
  bridgeForwardedPackets,
  countDecodingVideoStreams,
  pollUntil,
  type RtpTotals,
  rtpTotals,
  selectedRemotePorts,
  waitForDecodingVideo,
} from './media.js';
