// The connection badge: live / connecting / reconnecting in N s / signed out.

import { t } from './i18n.js';

/**
 * Show `conn`'s state in `el` (role=status, aria-live=polite). Wraps the
 * connection's onStatus: call it before conn.start(). Returns an update function.
 */
export function connectionBadge(el, conn) {
  el.setAttribute('role', 'status');
  el.setAttribute('aria-live', 'polite');
  el.classList.add('connection-badge');
  let timer = null;
  const show = (status, info = {}) => {
    clearInterval(timer);
    el.dataset.status = status;
    if (status === 'reconnecting' && info.retryInMs) {
      const until = Date.now() + info.retryInMs;
      const tick = () => {
        el.textContent = t('common.reconnectingIn', { s: Math.max(0, Math.ceil((until - Date.now()) / 1000)) });
      };
      tick();
      timer = setInterval(tick, 1000);
    } else if (status === 'closed') {
      el.textContent = info.auth ? t('common.signedOut') : t('common.closed');
    } else {
      el.textContent = t(`common.${status}`);
    }
  };
  const previous = conn.onStatus;
  conn.onStatus = (status, info) => {
    show(status, info);
    if (previous) previous(status, info);
  };
  show(conn.status);
  return show;
}
