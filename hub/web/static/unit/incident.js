// How one incident reads on the tablet: priority as colour and text, category
// label, the latest report's text. Shared by the offer, the mission and the list.
// Every text from a resident goes in as textContent (h() never parses HTML).

import { h } from '../shared/dom.js';
import { categoryLabel, t } from '../shared/i18n.js';

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

const EARTH_RADIUS_M = 6371008.8;

/** Great-circle distance in metres between two WGS84 points (haversine). */
export function distanceM(lat1, lon1, lat2, lon2) {
  const rad = Math.PI / 180;
  const dLat = (lat2 - lat1) * rad;
  const dLon = (lon2 - lon1) * rad;
  const a = Math.sin(dLat / 2) ** 2 + Math.cos(lat1 * rad) * Math.cos(lat2 * rad) * Math.sin(dLon / 2) ** 2;
  return 2 * EARTH_RADIUS_M * Math.asin(Math.min(1, Math.sqrt(a)));
}

/** "350 m" / "2.4 km": a distance as an officer reads it (rounded, never falsely exact). */
export function distanceText(m) {
  if (m < 1000) return `${Math.max(10, Math.round(m / 10) * 10)} m`;
  return `${(m / 1000).toFixed(m < 10000 ? 1 : 0)} km`;
}

function clampPriority(priority) {
  const p = Number(priority);
  return Number.isInteger(p) && p >= 1 && p <= 5 ? p : 5;
}
