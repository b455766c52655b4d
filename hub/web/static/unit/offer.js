// The offer screen: a pushed assignment fills the screen with Accept / Decline
// and a countdown to its deadline. Built once; render() shows, updates or hides it.

import { $ } from '../shared/dom.js';
import { errorText } from '../shared/errors.js';
import { t } from '../shared/i18n.js';
import { fillSummary, reportText } from './incident.js';
import { remainingMs } from './state.js';

/**
 * @param {HTMLElement} root the #offer dialog of index.html
 * @param {{onAccept(offer), onDecline(offer, reason)}} actions
 */
export function createOfferView(root, tenant, actions) {
  const parts = {
    summary: $('.offer-summary', root),
    text: $('.offer-text', root),
    countdown: $('.countdown', root),
    bar: $('.countdown-bar', root),
    reason: $('#decline-reason', root),
    accept: $('#accept', root),
    decline: $('#decline', root),
    error: $('.offer-error', root),
  };
  let shown = null; // the offer on screen
  let busy = false;

  parts.accept.addEventListener('click', () => act(() => actions.onAccept(shown)));
  parts.decline.addEventListener('click', () =>
    act(() => actions.onDecline(shown, parts.reason.value.trim())),
  );

  async function act(send) {
    if (!shown || busy) return;
    busy = true;
    setDisabled(true);
    parts.error.textContent = '';
    try {
      await send();
    } catch (err) {
      parts.error.textContent = errorText(err, 'unit.errors');
    } finally {
      busy = false;
      setDisabled(false);
    }
  }

  function setDisabled(disabled) {
    parts.accept.disabled = disabled;
    parts.decline.disabled = disabled;
  }

  function open(offer) {
    shown = offer;
    fillSummary(parts.summary, offer.incident, tenant);
    parts.text.textContent = reportText(offer.incident);
    parts.reason.value = '';
    parts.error.textContent = '';
    root.hidden = false;
    document.body.classList.add('offer-open');
    parts.accept.focus();
    // Browsers refuse vibrate() before the first tap (and log it as an error).
    if (navigator.vibrate && navigator.userActivation && navigator.userActivation.hasBeenActive) {
      navigator.vibrate([200, 100, 200]);
    }
  }

  function close() {
    // Focus must not stay on a button that disappears (screen readers get lost).
    if (root.contains(document.activeElement)) document.activeElement.blur();
    shown = null;
    root.hidden = true;
    document.body.classList.remove('offer-open');
  }

  return {
    /** Show `offer` (or hide when null) with its countdown at hub time `now`. */
    render(offer, now) {
      if (!offer) return shown && close();
      if (!shown || shown.assignment !== offer.assignment) open(offer);
      const left = remainingMs(offer, now);
      parts.countdown.textContent = countdownText(left);
      parts.countdown.setAttribute('aria-label', t('unit.secondsLeft', { s: Math.ceil(left / 1000) }));
      // The offer's incident view was taken when it was offered (updated_at).
      const total = offer.expires_at - (offer.incident.updated_at || 0);
      parts.bar.value = total > 0 && total >= left ? Math.round((100 * left) / total) : 100;
    },
  };
}

/** "m:ss" of a remaining time, rounded up to the second. */
export function countdownText(ms) {
  const s = Math.ceil(ms / 1000);
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
}
