// Pure tests of the map's hot spots (hub/web/static/console/hotspots.js): the
// shade steps, their legend labels, a cell's text, the default period.
import { STEPS, defaultPeriod, describe, step, stepLabel } from '../../hub/web/static/console/hotspots.js';
import { setLang } from '../../hub/web/static/shared/i18n.js';

function eq(a, b, what = '') {
  const x = JSON.stringify(a), y = JSON.stringify(b);
  if (x !== y) throw new Error(`${what}: ${x} !== ${y}`);
}

export function test_steps_cover_every_count() {
  eq([0, 1, 2, 3, 5, 6, 9, 10, 400].map(step), [0, 1, 1, 2, 2, 3, 3, 4, 4], 'steps');
  eq(STEPS.map((_, i) => stepLabel(i + 1)), ['1–2', '3–5', '6–9', '10+'], 'labels');
}

export function test_a_cell_says_its_count_and_what_comes_back() {
  setLang('en');
  const label = (c) => ({ noise: 'Noise' }[c] || c);
  eq(describe({ incidents: 1, by_category: { theft: 1 }, recurring: [] }, label), '1 incident', 'one');
  eq(describe({ incidents: 5, by_category: { noise: 4, theft: 1 }, recurring: ['noise'] }, label),
    '5 incidents · Noise: 4, week after week', 'recurring');
  setLang('fr');
  eq(describe({ incidents: 5, by_category: { noise: 4 }, recurring: ['noise'] }, label),
    '5 incidents · Noise : 4, semaine après semaine', 'fr');
}

export function test_the_default_period_is_the_last_30_days() {
  eq(defaultPeriod(new Date('2026-12-01T12:00:00Z')), 'from=2026-11-02&to=2026-12-01', 'period');
}
