// Small pieces of text and markup that several console views share: the
// priority badge (colour, shape and text, so no one depends on colour alone),
// ages, offers.

import { h } from '../shared/dom.js';
import { t } from '../shared/i18n.js';
import { age } from '../shared/time.js';
import { offerOf, secondsLeft } from './state.js';

/** One shape per priority: ▲ P1, ◆ P2, ■ P3, ● P4, ○ P5. */
export const SHAPES = { 1: '▲', 2: '◆', 3: '■', 4: '●', 5: '○' };

/** The priority badge: shape (hidden from screen readers) and the text `P1`…`P5`. */
export function priorityBadge(priority) {
  return h('span', { class: `prio prio-${priority}` },
    h('span', { class: 'shape', 'aria-hidden': 'true' }, SHAPES[priority] || '?'),
    `P${priority}`);
}

/** "12 s", "3 min" since a time (ms since the epoch). */
export function since(at, now) {
  return at ? age(at, now) : '—';
}

/**
 * An incident's age to the minute ("< 1 min", "3 min"): the queue's rows then
 * change once a minute, not every second for every recent incident.
 */
export function ageOf(at, now) {
  if (!at) return '—';
  return now - at < 60_000 ? t('console.underAMinute') : age(at, now);
}

/** "1 report", "3 reports". */
export function reportCount(n) {
  return n === 1 ? t('console.report') : t('console.reports', { n });
}

/**
 * What a unit covers, in the operator's words: the town's named sectors it
 * covers ("sector centre"), else how many cells, and "around its position" once
 * it has sent one (a unit also covers the ring around where it is). Never an H3
 * id: it means nothing to a person.
 *
 * @param {{sector?: string[], cell?: string|null}} unit a unit of the board
 * @param {Map<string, string>} sectorNames the tenant's sector cell → name
 */
export function coverageLine(unit, sectorNames) {
  const cells = unit.sector || [];
  const names = cells.map((cell) => sectorNames.get(cell));
  const parts = [];
  if (cells.length && names.every(Boolean)) {
    const key = names.length === 1 ? 'console.units.sectorNamed' : 'console.units.sectorsNamed';
    parts.push(t(key, { names: names.join(', ') }));
  } else if (cells.length) {
    parts.push(cells.length === 1 ? t('console.units.cell') : t('console.units.cells', { n: cells.length }));
  }
  if (unit.cell) parts.push(t('console.units.around'));
  return parts.join(' · ');
}

/** What the queue says about an incident's offer: pending with its countdown, or how it ended. */
export function offerLine(state, inc, now = Date.now()) {
  if (inc.status === 'dispatched' || inc.status === 'on_scene') {
    return inc.unit ? t('console.offer.unit', { unit: inc.unit }) : '';
  }
  const last = state.lastOffer.get(inc.id);
  // An older hub's snapshot (no `offers`) says an offer is out (`assignment`), not to whom or until when.
  if (!last) return inc.assignment ? t('console.offer.out') : '';
  if (last.state === 'offered') {
    return t('console.offer.pending', { unit: last.unit, s: secondsLeft(last, now) });
  }
  if (last.state === 'expired' || last.state === 'declined') {
    return t(`console.offer.${last.state}`, { unit: last.unit });
  }
  return '';
}

/** The unit board's offer cell: the pending offer of a unit with its countdown. */
export function unitOfferLine(state, unitId, now) {
  const offer = offerOf(state, unitId);
  return offer ? t('console.units.offer', { incident: offer.incident, s: secondsLeft(offer, now) }) : '';
}
