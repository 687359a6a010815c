import { type ReactNode, useEffect, useId } from 'react';
import { t } from '../../i18n/index.js';

/**
 * A modal form dialog named by its title: the fields, then the submit button (disabled until
 * `canSubmit`) and "Close"; Enter submits, Escape closes, and the focus goes back where it was.
 */
export function FormDialog({
  title,
  submitLabel,
  canSubmit,
  onSubmit,
  onClose,
  children,
}: {
  title: string;
  submitLabel: string;
  canSubmit: boolean;
  onSubmit(): void;
  onClose(): void;
  children: ReactNode;
}) {
  const id = useId();
  // Closing gives the focus back to what opened the dialog, for keyboard users.
  useEffect(() => {
    const opener = document.activeElement;
    return () => {
      if (opener instanceof HTMLElement && opener.isConnected) opener.focus();
    };
  }, []);
  return (
    <div className="dialog-backdrop">
      <form
        role="dialog"
        aria-modal="true"
        aria-labelledby={`${id}-title`}
        className="dialog"
        onSubmit={(e) => {
          e.preventDefault();
          if (canSubmit) onSubmit();
        }}
        onKeyDown={(e) => e.key === 'Escape' && onClose()}
      >
        <h2 id={`${id}-title`}>{title}</h2>
        {children}
        <div className="dialog-actions">
          <button type="submit" disabled={!canSubmit}>
            {submitLabel}
          </button>
          <button type="button" className="secondary" onClick={onClose}>
            {t('call.dismiss')}
          </button>
        </div>
      </form>
    </div>
  );
}
