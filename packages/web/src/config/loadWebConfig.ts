import { type WebConfig, webConfigPath, webConfigSchema } from '@confab/protocol';

/** Fetches and checks the runtime configuration the server derives from its settings. */
export async function loadWebConfig(signal?: AbortSignal): Promise<WebConfig> {
  const res = await fetch(webConfigPath, { cache: 'no-cache', ...(signal ? { signal } : {}) });
  if (!res.ok) throw new Error(`config.json: HTTP ${res.status}`);
  return webConfigSchema.parse(await res.json());
}
