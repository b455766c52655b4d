// The incidents of the unit's coverage, most urgent first. Rows are kept by
// incident id and patched only when their incident object changed; the order
// is fixed by moving existing rows, never by rebuilding the list.

import { h } from '../shared/dom.js';
import { t } from '../shared/i18n.js';
import { age } from '../shared/time.js';
import { fillSummary, reportText, statusName } from './incident.js';

/**
 * @param {HTMLOListElement} list the list element (named "Incidents in my area")
 * @param {HTMLElement} empty the text shown when the list is empty
 */
export function createIncidentsView(list, empty, tenant) {
  const rows = new Map(); // id -> {li, incident, parts}

  function row(incident) {
    const parts = {
      summary: h('span', { class: 'summary' }),
      meta: h('span', { class: 'meta' }),
      text: h('span', { class: 'text' }),
    };
    const li = h('li', { class: 'incident', 'data-incident': incident.id },
      parts.summary, parts.meta, parts.text);
    return { li, parts, incident: null };
  }

  function patch(entry, incident, me, now) {
    entry.incident = incident;
    entry.li.className = `incident p${incident.priority}${incident.unit === me ? ' mine' : ''}`;
    fillSummary(entry.parts.summary, incident, tenant);
    entry.parts.text.textContent = reportText(incident);
    entry.parts.meta.textContent = meta(incident, now);
  }

  return {
    /** Show `incidents` (sorted) for unit `me`, patching only what changed. */
    render(incidents, me, now) {
      const seen = new Set();
      let before = list.firstChild;
      for (const incident of incidents) {
        seen.add(incident.id);
        let entry = rows.get(incident.id);
        if (!entry) rows.set(incident.id, (entry = row(incident)));
        if (entry.incident !== incident) patch(entry, incident, me, now);
        if (entry.li !== before) list.insertBefore(entry.li, before);
        else before = before.nextSibling;
      }
      for (const [id, entry] of rows) {
        if (seen.has(id)) continue;
        entry.li.remove();
        rows.delete(id);
      }
      empty.hidden = incidents.length > 0;
    },
    /** Refresh the ages (once in a while: they are minutes). */
    tick(now) {
      for (const entry of rows.values()) entry.parts.meta.textContent = meta(entry.incident, now);
    },
  };
}

function meta(incident, now) {
  const n = incident.reports || 1;
  const reports = n === 1 ? t('unit.report1') : t('unit.reports', { n });
  const opened = incident.opened_at ? age(incident.opened_at, now) : '';
  return [statusName(incident.status), reports, opened].filter(Boolean).join(' · ');
}
