// The unit's own status (available, busy, off duty): toggle buttons whose
// pressed state shows the status the hub last accepted.

import { errorText } from '../shared/errors.js';
import { t } from '../shared/i18n.js';

/** The statuses an officer sets by hand (en_route and on_scene follow the mission). */
export const DUTY = ['available', 'busy', 'off_duty'];

/**
 * @param {HTMLElement} root the #duty group: one button per status, data-status=...
 * @param {{onStatus(status)}} actions resolves when the hub said ok
 */
export function createDutyView(root, actions) {
  const buttons = [...root.querySelectorAll('button[data-status]')];
  const error = root.querySelector('.duty-error');
  const current = root.querySelector('.duty-current');

  for (const button of buttons) {
    button.addEventListener('click', async () => {
      error.textContent = '';
      button.disabled = true;
      try {
        await actions.onStatus(button.dataset.status);
      } catch (err) {
        error.textContent = errorText(err, 'unit.errors');
      } finally {
        button.disabled = false;
      }
    });
  }

  return {
    /** Mark `status` (or none when unknown) as the current one. */
    render(status) {
      for (const button of buttons) {
        button.setAttribute('aria-pressed', String(button.dataset.status === status));
      }
      // Unknown until the officer sets it (the hub does not tell a unit its own
      // status), and the control room only assigns units that are available.
      current.textContent = status
        ? t('unit.currentStatus', { status: t(`unit.status.${status}`) })
        : t('unit.statusUnknown');
    },
  };
}
