// The incident assigned to this unit: what it is, where it stands, and the
// On scene / Resolved buttons (with an optional note for the audit trail).

import { $ } from '../shared/dom.js';
import { errorText } from '../shared/errors.js';
import { t } from '../shared/i18n.js';
import { distanceM, distanceText, fillSummary, reportText, statusName } from './incident.js';

/**
 * @param {HTMLElement} root the #mission section of index.html
 * @param {{onStatus(incident, status, note)}} actions resolves when the hub said ok
 */
export function createMissionView(root, tenant, actions) {
  const parts = {
    none: $('.mission-none', root),
    body: $('.mission-body', root),
    summary: $('.mission-summary', root),
    status: $('.mission-status', root),
    text: $('.mission-text', root),
    where: $('.mission-where', root),
    note: $('#mission-note', root),
    onScene: $('#on-scene', root),
    resolved: $('#resolved', root),
    error: $('.mission-error', root),
  };
  let shown = null;
  let busy = false;
  let here = null; // [lat, lon] of this unit, from its last fix

  parts.onScene.addEventListener('click', () => act('on_scene'));
  parts.resolved.addEventListener('click', () => act('resolved'));

  async function act(status) {
    if (!shown || busy) return;
    busy = true;
    update();
    parts.error.textContent = '';
    try {
      const typed = parts.note.value;
      await actions.onStatus(shown, status, typed.trim());
      // Clear only the note that went: one typed while the hub answered stays for the next step.
      if (parts.note.value === typed) parts.note.value = '';
    } catch (err) {
      parts.error.textContent = errorText(err, 'unit.errors');
    } finally {
      busy = false;
      update();
    }
  }

  function update() {
    const status = shown ? shown.status : null;
    parts.onScene.disabled = busy || status !== 'dispatched';
    parts.resolved.disabled = busy || !(status === 'dispatched' || status === 'on_scene');
  }

  return {
    /** Show the mission's incident (or "no assignment" when null). */
    render(incident) {
      if (incident === shown) return;
      if (!incident || !shown || incident.id !== shown.id) {
        parts.note.value = '';
        parts.error.textContent = '';
      }
      shown = incident;
      parts.none.hidden = Boolean(incident);
      parts.body.hidden = !incident;
      if (incident) {
        fillSummary(parts.summary, incident, tenant);
        parts.status.textContent = statusName(incident.status);
        parts.text.textContent = reportText(incident);
        parts.where.textContent = where(incident, here);
      }
      update();
    },
    /** This unit's position changed: the distance to the incident follows. */
    moved(lat, lon) {
      here = [lat, lon];
      if (shown) parts.where.textContent = where(shown, here);
    },
  };
}

function where(incident, here) {
  if (typeof incident.lat !== 'number' || typeof incident.lon !== 'number') return '';
  const position = t('unit.position', { lat: incident.lat.toFixed(5), lon: incident.lon.toFixed(5) });
  if (!here) return position;
  const away = distanceText(distanceM(here[0], here[1], incident.lat, incident.lon));
  return `${position} · ${t('unit.away', { distance: away })}`;
}
