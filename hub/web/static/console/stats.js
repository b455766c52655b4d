// The Statistics view: the town's figures over a period (GET /api/v1/stats), drawn
// as plain SVG (createElementNS, no library): the distribution of response times,
// the weekly pattern, volumes by day; tables of stage times and targets; hot spots
// and recurring cells; CSV and GeoJSON exports. What the figures mean:
// docs/statistics.md.

import { clear, h } from '../shared/dom.js';
import { errorText } from '../shared/errors.js';
import { t } from '../shared/i18n.js';

const SVG = 'http://www.w3.org/2000/svg';
const SERIES = ['acknowledged', 'dispatched', 'on_scene', 'resolved', 'response', 'total'];
const DAYS = 7;
const HOURS = 24;

/** An SVG element with attributes (numbers and strings only: no style attribute). */
export function svg(tag, attrs = {}, ...children) {
  const el = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attrs)) el.setAttribute(name, String(value));
  for (const child of children) el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  return el;
}

/** 75 → "1 min 15 s", 606 → "10 min", 5400 → "1 h 30 min"; null → "—". Figures are
 * within 1 % (docs/statistics.md): past 10 minutes, seconds would be noise. */
export function duration(seconds) {
  if (seconds === null || seconds === undefined) return '—';
  const s = Math.round(seconds);
  if (s < 60) return `${s} s`;
  if (s < 600) return `${Math.floor(s / 60)} min${s % 60 ? ` ${s % 60} s` : ''}`;
  if (s < 3600) return `${Math.round(s / 60)} min`;
  const m = Math.round(s / 60);
  return `${Math.floor(m / 60)} h${m % 60 ? ` ${m % 60} min` : ''}`;
}

/** A bar chart: one bar per value, labels under some of them, a title for each bar. */
export function bars(values, { labels = [], titles = [], width = 560, height = 140, name = '' } = {}) {
  const max = Math.max(1, ...values);
  const gap = 2;
  const w = Math.max(1, (width - gap * values.length) / Math.max(1, values.length));
  const chart = svg('svg', { viewBox: `0 0 ${width} ${height + 18}`, role: 'img', 'aria-label': name, class: 'chart' });
  values.forEach((v, i) => {
    const bh = (v / max) * height;
    const bar = svg('rect', { x: i * (w + gap), y: height - bh, width: w, height: bh, class: 'bar' });
    bar.append(svg('title', {}, titles[i] ?? String(v)));
    chart.append(bar);
    if (labels[i]) chart.append(svg('text', { x: i * (w + gap), y: height + 14, class: 'axis' }, labels[i]));
  });
  return chart;
}

/** The weekly pattern: 7 rows (Monday first) × 24 hours, darker = more incidents. */
export function weekly(counts, { dayNames, name }) {
  const cell = 20;
  const left = 36;
  const max = Math.max(1, ...counts);
  const chart = svg('svg', { viewBox: `0 0 ${left + HOURS * cell} ${DAYS * cell + 16}`, role: 'img', 'aria-label': name, class: 'chart weekly' });
  for (let d = 0; d < DAYS; d += 1) {
    chart.append(svg('text', { x: 0, y: d * cell + 14, class: 'axis' }, dayNames[d]));
    for (let hour = 0; hour < HOURS; hour += 1) {
      const n = counts[d * HOURS + hour] || 0;
      const rect = svg('rect', {
        x: left + hour * cell, y: d * cell, width: cell - 2, height: cell - 2,
        class: `heat heat-${Math.min(4, Math.ceil((n / max) * 4))}`,
      });
      rect.append(svg('title', {}, `${dayNames[d]} ${hour} h: ${n}`));
      chart.append(rect);
    }
  }
  for (let hour = 0; hour < HOURS; hour += 6) {
    chart.append(svg('text', { x: left + hour * cell, y: DAYS * cell + 12, class: 'axis' }, `${hour} h`));
  }
  return chart;
}

function isoDay(date) {
  return date.toISOString().slice(0, 10);
}

export class StatsView {
  /**
   * root: the dialog element. fetchStats(query) → the JSON body; download(query, format)
   * saves an export; label(category) → its name; categories: the town's category ids.
   */
  constructor(root, { fetchStats, download, label, categories }) {
    this.root = root;
    this.fetchStats = fetchStats;
    this.download = download;
    this.label = label;
    this.loaded = false; // until shown once, the map's hot spots use their own default period
    this.onLoad = null;  // called after each load with the period, for the map's hot spots
    const today = new Date();
    this.from = h('input', { type: 'date', id: 'stats-from', value: isoDay(new Date(today - 27 * 86400e3)) });
    this.to = h('input', { type: 'date', id: 'stats-to', value: isoDay(today) });
    this.category = h('select', { id: 'stats-category' },
      h('option', { value: '' }, t('console.stats.all')),
      ...categories.map((c) => h('option', { value: c }, label(c))));
    this.sector = h('select', { id: 'stats-sector' },
      h('option', { value: '' }, t('console.stats.all'))); // the sectors come with the first answer
    this.body = h('div', { class: 'stats-body', 'aria-live': 'polite' });
    const form = h('form', { class: 'stats-form', onsubmit: (e) => { e.preventDefault(); this.load(); } },
      h('label', { for: 'stats-from' }, t('console.stats.from')), this.from,
      h('label', { for: 'stats-to' }, t('console.stats.to')), this.to,
      h('label', { for: 'stats-category' }, t('console.stats.category')), this.category,
      h('label', { for: 'stats-sector' }, t('console.stats.sector')), this.sector,
      h('button', { type: 'submit' }, t('console.stats.show')),
      h('button', { type: 'button', onclick: () => this.download(this.query(), 'csv') }, t('console.stats.csv')),
      h('button', { type: 'button', onclick: () => this.download(this.query(), 'geojson') }, t('console.stats.geojson')),
      h('button', { type: 'button', class: 'close', onclick: () => this.root.close() }, t('console.stats.close')));
    root.replaceChildren(h('h2', { id: 'stats-title' }, t('console.stats.title')), form, this.body);
  }

  query() {
    const q = new URLSearchParams({ from: this.from.value, to: this.to.value });
    if (this.category.value) q.set('category', this.category.value);
    if (this.sector.value) q.set('sector', this.sector.value);
    return q.toString();
  }

  /** The period of the last load (`from=…&to=…`), or null before the first. */
  period() {
    return this.loaded ? new URLSearchParams({ from: this.from.value, to: this.to.value }).toString() : null;
  }

  async open() {
    if (!this.root.open) this.root.showModal();
    await this.load();
  }

  async load() {
    clear(this.body).append(h('p', { class: 'muted' }, t('common.loading')));
    try {
      this.render(await this.fetchStats(this.query()));
      this.loaded = true;
      this.onLoad?.();
    } catch (err) {
      clear(this.body).append(h('p', { role: 'alert' }, errorText(err, 'console.errors')));
    }
  }

  render(s) {
    if (this.sector.options.length === 1) this.sector.append(...s.sectors.map((name) => h('option', { value: name }, name)));
    const v = s.volumes;
    const rated = s.feedback.count ? `${s.feedback.mean} / 5 (${s.feedback.count})` : '—';
    const summary = h('dl', { class: 'stats-summary' },
      h('dt', {}, t('console.stats.incidents')), h('dd', { id: 'stats-incidents' }, String(v.incidents)),
      h('dt', {}, t('console.stats.reports')), h('dd', {}, String(v.reports)),
      h('dt', {}, t('console.stats.responseP50')), h('dd', { id: 'stats-response-p50' }, duration(s.stages.response.p50_s)),
      h('dt', {}, t('console.stats.feedback')), h('dd', {}, rated));
    const response = s.stages.response;
    const histogram = bars(response.histogram.map((b) => b.count), {
      labels: response.histogram.map((b, i) => (i % 3 === 0 ? (b.le_s === null ? '+' : duration(b.le_s)) : '')),
      titles: response.histogram.map((b) => `≤ ${b.le_s === null ? '∞' : duration(b.le_s)}: ${b.count}`),
      name: t('console.stats.histogramName'),
    });
    const byDay = bars(v.by_day.map((d) => d.incidents), {
      labels: v.by_day.map((d, i) => (i % 7 === 0 ? d.day.slice(5) : '')),
      titles: v.by_day.map((d) => `${d.day}: ${d.incidents}`),
      name: t('console.stats.byDayName'),
    });
    const dayNames = t('console.stats.days').split(',');
    this.body.replaceChildren(
      summary,
      h('section', { 'aria-labelledby': 'stats-h-response' },
        h('h3', { id: 'stats-h-response' }, t('console.stats.histogram')), histogram),
      h('section', { 'aria-labelledby': 'stats-h-weekly' },
        h('h3', { id: 'stats-h-weekly' }, t('console.stats.weekly')),
        weekly(v.by_hour_of_week, { dayNames, name: t('console.stats.weeklyName') })),
      h('section', { 'aria-labelledby': 'stats-h-days' },
        h('h3', { id: 'stats-h-days' }, t('console.stats.byDay')), byDay),
      this.stagesTable(s.stages),
      this.targetsTable(s.targets),
      this.spots(s),
    );
  }

  stagesTable(stages) {
    return h('table', { class: 'stats-table', id: 'stats-stages' },
      h('caption', {}, t('console.stats.stages')),
      h('thead', {}, h('tr', {}, ...['stage', 'count', 'p50', 'p90', 'p99'].map((c) => h('th', { scope: 'col' }, t(`console.stats.col.${c}`))))),
      h('tbody', {}, ...SERIES.map((name) => h('tr', { dataset: { series: name } },
        h('th', { scope: 'row' }, t(`console.stats.series.${name}`)),
        h('td', {}, String(stages[name].count)),
        h('td', {}, duration(stages[name].p50_s)),
        h('td', {}, duration(stages[name].p90_s)),
        h('td', {}, duration(stages[name].p99_s))))));
  }

  targetsTable(targets) {
    return h('table', { class: 'stats-table', id: 'stats-targets' },
      h('caption', {}, t('console.stats.targets')),
      h('thead', {}, h('tr', {}, ...['priority', 'target', 'handled', 'share'].map((c) => h('th', { scope: 'col' }, t(`console.stats.col.${c}`))))),
      h('tbody', {}, ...Object.entries(targets).map(([p, row]) => h('tr', {},
        h('th', { scope: 'row' }, `P${p}`),
        h('td', {}, duration(row.target_s)),
        h('td', {}, String(row.handled)),
        h('td', {}, row.share === null ? '—' : `${Math.round(row.share * 100)} %`)))));
  }

  spots(s) {
    return h('section', { 'aria-labelledby': 'stats-h-spots' },
      h('h3', { id: 'stats-h-spots' }, t('console.stats.hotspots')),
      h('ol', { class: 'stats-spots', id: 'stats-hotspots' },
        ...s.hotspots.slice(0, 10).map((c) => h('li', {}, t('console.stats.spot', { cell: c.cell, n: c.incidents })))),
      h('h3', {}, t('console.stats.recurring')),
      h('ul', { class: 'stats-spots', id: 'stats-recurring' },
        ...(s.recurring.length ? s.recurring.slice(0, 10).map((r) => h('li', {},
          t('console.stats.comesBack', { category: this.label(r.category), cell: r.cell, weeks: r.weeks, n: r.incidents })))
          : [h('li', { class: 'muted' }, t('console.stats.none'))])));
  }
}
