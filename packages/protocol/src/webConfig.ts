import { z } from 'zod';

const sdpParamsSchema = z.looseObject({ videoSendBitrate: z.number().positive().optional() });

/**
 * The runtime configuration the web app loads from
 * `/api/config/v1/kopano/meet/config.json`. Field names follow Kopano Meet's `config.json.in`
 * so that the shape stays familiar; `apps.enabled` comes from Kopano's app grid.
 */
export const webConfigSchema = z.looseObject({
  apiPrefix: z.string(),
  oidc: z.looseObject({
    iss: z.string(),
    clientID: z.string(),
    scope: z.string().optional(),
  }),
  kwm: z.looseObject({
    url: z.string(),
    apiPrefix: z.string().optional(),
    webrtc: z
      .looseObject({
        config: z.record(z.string(), z.unknown()).optional(),
        options: z.record(z.string(), z.unknown()).optional(),
      })
      .optional(),
    /** Kopano Meet's SDP parameters; bit rates in kbit/s. */
    sdpParams: sdpParamsSchema.optional(),
    sdpParamsScreenshare: sdpParamsSchema.optional(),
  }),
  guests: z.looseObject({
    enabled: z.boolean(),
    default: z.string().nullable(),
    defaultPublicGroupPrefix: z.string(),
    publicGroupRegexp: z.string(),
  }),
  disableFullGAB: z.boolean(),
  disableRemoteTalkingDetection: z.boolean(),
  /** The applications grid: names in order, and (Confab) the address of each. */
  apps: z.looseObject({
    enabled: z.array(z.string()),
    links: z.record(z.string(), z.string()).optional(),
  }),
  version: z.string().optional(),
});

export type WebConfig = z.infer<typeof webConfigSchema>;

/** The path the web app loads its runtime configuration from. */
export const webConfigPath = '/api/config/v1/kopano/meet/config.json';

/** Where the web app is served, and the prefix of its deep links. */
export const appBasePath = '/meet/';
export const roomPathPrefix = '/meet/r/';
