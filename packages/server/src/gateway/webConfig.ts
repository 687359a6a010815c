import type { WebConfig } from '@confab/protocol';
import { appAddress, type Settings } from '../config/index.js';
import type { GuestPolicy } from '../guests/index.js';

/** The built-in web app's OIDC client id: Kopano Meet's form, so Kopano registries still match. */
export function webClientIdFor(origin: string): string {
  return `kpop-${origin}/meet/`;
}

/**
 * The web app's runtime configuration, derived from the server's own settings (SPEC §2), with
 * `web_config` merged over it for administrator additions such as `kwm.webrtc.config`.
 */
export function buildWebConfig(
  settings: Settings,
  guestPolicy: GuestPolicy,
  origin: string,
  issuer: string,
  version: string,
): WebConfig {
  const derived: WebConfig = {
    apiPrefix: '/api/gc/v1',
    oidc: {
      iss: issuer,
      clientID: webClientIdFor(origin),
      scope: 'openid profile email kopano/kwm kopano/gc',
    },
    // sdpParams in kbit/s, as Kopano Meet reads them.
    kwm: {
      url: '',
      apiPrefix: '/api/kwm/v2',
      sdpParams: { videoSendBitrate: Math.round(settings.video_max_bitrate / 1000) },
      sdpParamsScreenshare: {
        videoSendBitrate: Math.round(settings.screenshare_max_bitrate / 1000),
      },
    },
    guests: {
      enabled: guestPolicy.linkGuests,
      default: null,
      defaultPublicGroupPrefix: 'public/',
      publicGroupRegexp: guestPolicy.roomPattern,
    },
    disableFullGAB: false,
    disableRemoteTalkingDetection: false,
    // Kopano's shape (`enabled`), with Confab's `links`: where each enabled application is.
    apps: {
      enabled: settings.apps.enabled,
      links: Object.fromEntries(
        settings.apps.enabled.map((n) => [n, appAddress(n, settings.apps.links) ?? '']),
      ),
    },
    version,
  };
  return mergeDeep(derived, settings.web_config) as WebConfig;
}

function mergeDeep(base: unknown, over: unknown): unknown {
  if (!isObject(base) || !isObject(over)) return over === undefined ? base : over;
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) out[k] = mergeDeep(out[k], v);
  return out;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
