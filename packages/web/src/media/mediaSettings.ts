/**
 * The user's media choices in this browser (Settings): audio only, and which camera, microphone
 * and speaker to use. Kept in localStorage, so they apply to every account on this browser, as
 * the devices belong to the machine rather than to the person.
 */
export interface MediaSettings {
  audioOnly: boolean;
  cameraId?: string;
  microphoneId?: string;
  speakerId?: string;
}

const storageKey = 'confab.media-settings';

export function loadMediaSettings(): MediaSettings {
  try {
    const raw = JSON.parse(localStorage.getItem(storageKey) ?? '{}') as Record<string, unknown>;
    const id = (v: unknown) => (typeof v === 'string' && v.length <= 512 ? v : undefined);
    const settings: MediaSettings = { audioOnly: raw.audioOnly === true };
    const cameraId = id(raw.cameraId);
    const microphoneId = id(raw.microphoneId);
    const speakerId = id(raw.speakerId);
    if (cameraId) settings.cameraId = cameraId;
    if (microphoneId) settings.microphoneId = microphoneId;
    if (speakerId) settings.speakerId = speakerId;
    return settings;
  } catch {
    return { audioOnly: false };
  }
}

export function saveMediaSettings(settings: MediaSettings): void {
  try {
    localStorage.setItem(storageKey, JSON.stringify(settings));
  } catch {
    // Storage full or blocked: the choice holds until the page reloads.
  }
}

/** Whether this browser can route audio to a chosen output (`HTMLMediaElement.setSinkId`). */
export const canChooseSpeaker =
  typeof HTMLMediaElement !== 'undefined' && 'setSinkId' in HTMLMediaElement.prototype;

/** Whether this browser can share a screen. */
export const canShareScreen =
  typeof navigator !== 'undefined' && typeof navigator.mediaDevices?.getDisplayMedia === 'function';
