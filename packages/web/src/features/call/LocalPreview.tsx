import { t } from '../../i18n/index.js';
import type { LocalMedia } from '../../media/useLocalMedia.js';
import { Video } from './Video.js';

/** Own camera before a call, or what to check when camera or microphone could not start. */
export function LocalPreview({ media }: { media: LocalMedia }) {
  return (
    <div className="preview">
      {media.error && (
        <div className="notice" role="alert">
          <p>{t(`media.${media.error}`)}</p>
          <button type="button" onClick={media.retry}>
            {t('media.retry')}
          </button>
        </div>
      )}
      {media.stream?.getVideoTracks().length ? (
        <Video
          stream={media.stream}
          muted
          mirrored
          className="preview-video"
          label={t('main.preview')}
        />
      ) : null}
    </div>
  );
}
