// How one incident reads on the tablet: priority as colour and text, category
// label, the latest report's text. Shared by the offer, the mission and the list.
// Every text from a resident goes in as textContent (h() never parses HTML).

import { h } from '/static/shared/dom.js';
import { categoryLabel, t } from '/static/shared/i18n.js';

/** The category's label in the page's language, from the tenant's config. */
export function categoryName(tenant, id) {
  const category = tenant && (tenant.categories || []).find((c) => c.id === id);
  return category ? categoryLabel(category) : id;
}

/** A priority badge: colour (class p1..p5) and the text P1..P5. */
export function priorityBadge(priority) {
  const p = clampPriority(priority);
  return h('span', { class: `prio prio-${p}`, title: t(`unit.priority${p}`) }, `P${p}`);
}

/** Fill `el` with the badge, the category and the text of `incident`. */
export function fillSummary(el, incident, tenant) {
  el.replaceChildren(
    priorityBadge(incident.priority),
    ' ',
    h('span', { class: 'category' }, categoryName(tenant, incident.category)),
  );
}

/** The incident's latest report text, or '' (it is untrusted: use as text only). */
export function reportText(incident) {
  return typeof incident.text === 'string' ? incident.text : '';
}

/** The translated status of an incident. */
export function statusName(status) {
  return t(`unit.incidentStatus.${status}`);
}

function clampPriority(priority) {
  const p = Number(priority);
  return Number.isInteger(p) && p >= 1 && p <= 5 ? p : 5;
}
