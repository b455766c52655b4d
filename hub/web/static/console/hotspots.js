// The hot spots on the map: the incidents per coarse cell over a period, as the
// hub's GeoJSON export draws them (GET /api/v1/stats?format=geojson: the hub
// computes the cell polygons, so no H3 in the browser). Drawn in a pane under the
// incident hexagons, shaded by count in a few fixed steps with a legend; each
// cell says its count (and what comes back there) in a title and a tooltip.
/* global L */

import { h } from '../shared/dom.js';
import { t } from '../shared/i18n.js';

/** The lower bound of each shade: 1–2 incidents is step 1, 3–5 step 2, … */
export const STEPS = [1, 3, 6, 10];
const PANE = 'hotspots';
const PANE_Z = 350; // Leaflet's overlayPane (the incident hexagons) is 400
const DEFAULT_DAYS = 30;
const SVG = 'http://www.w3.org/2000/svg';

/** The shade (1…STEPS.length) of a cell with n incidents. */
export function step(n) {
  let s = 0;
  STEPS.forEach((low, i) => { if (n >= low) s = i + 1; });
  return s;
}

/** The legend's label of step s (1-based): "1–2", …, "10+". */
export function stepLabel(s) {
  const next = STEPS[s];
  return next === undefined ? `${STEPS[s - 1]}+` : `${STEPS[s - 1]}–${next - 1}`;
}

/** One cell's text: its count, then each recurring category with its count. */
export function describe(props, label) {
  const lines = [props.incidents === 1 ? t('console.hotspots.one') : t('console.hotspots.count', { n: props.incidents })];
  for (const c of props.recurring || []) {
    lines.push(t('console.hotspots.recurring', { category: label(c), n: props.by_category?.[c] ?? 0 }));
  }
  return lines.join(' · ');
}

/** The default period: the last 30 days, today included, as the API's query. */
export function defaultPeriod(today = new Date()) {
  const day = (d) => d.toISOString().slice(0, 10);
  return new URLSearchParams({ from: day(new Date(today - (DEFAULT_DAYS - 1) * 86400e3)), to: day(today) }).toString();
}

export class HotspotLayer {
  /**
   * map: the Leaflet map. fetchGeoJSON(query) → the FeatureCollection; period() → the
   * query of the period to show; label(category) → its name.
   */
  constructor(map, { fetchGeoJSON, period, label }) {
    this.map = map;
    this.fetchGeoJSON = fetchGeoJSON;
    this.period = period;
    this.label = label;
    this.layer = null;
    this.loading = 0; // a newer fetch wins over an older one still on its way
    map.createPane(PANE).style.zIndex = String(PANE_Z); // a DOM property, not an inline style in markup
    this.renderer = L.svg({ pane: PANE });
    this.legend = L.control({ position: 'bottomright' });
    this.legend.onAdd = () => h('div', { class: 'hotspot-legend', id: 'hotspot-legend' },
      h('p', {}, t('console.hotspots.legend')),
      h('ul', {}, ...STEPS.map((_, i) => h('li', {},
        h('span', { class: `swatch hotspot-s${i + 1}`, 'aria-hidden': 'true' }), stepLabel(i + 1)))),
      h('p', {}, h('span', { class: 'swatch hotspot-recurring', 'aria-hidden': 'true' }), t('console.hotspots.comesBack')));
  }

  get shown() {
    return this.layer !== null;
  }

  /** Fetch the period's hot spots and draw them (again, when already shown). */
  async show() {
    const ticket = ++this.loading;
    const collection = await this.fetchGeoJSON(this.period());
    if (ticket !== this.loading) return; // hidden, or asked again, meanwhile
    this.layer?.remove();
    this.layer = L.geoJSON(collection, {
      renderer: this.renderer,
      pane: PANE,
      style: (f) => ({
        className: `hotspot hotspot-s${step(f.properties.incidents)}${f.properties.recurring.length ? ' hotspot-recurring' : ''}`,
        weight: 1,
      }),
      onEachFeature: (f, layer) => {
        const text = describe(f.properties, this.label);
        layer.bindTooltip(h('span', {}, text), { sticky: true });
        layer.on('add', () => {
          const path = layer.getElement();
          path.dataset.cell = f.properties.cell;
          path.dataset.incidents = String(f.properties.incidents);
          path.append(Object.assign(document.createElementNS(SVG, 'title'), { textContent: text }));
        });
      },
    }).addTo(this.map);
    this.legend.addTo(this.map);
  }

  hide() {
    this.loading += 1;
    this.layer?.remove();
    this.layer = null;
    this.legend.remove();
  }

  /** Redraw with the current period, if shown. */
  refresh() {
    return this.shown ? this.show() : Promise.resolve();
  }
}
