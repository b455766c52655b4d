// The map: the town outline, each live incident as its H3 hexagon coloured and
// labelled by priority, units as markers (drawn apart when their position is
// stale; their names moved apart where they would overlap: declutter.js), the
// notice composer's cells. Leaflet's layers are added and removed
// as incidents come and go, never rebuilt per event.
/* global L */

import { h } from '../shared/dom.js';
import { declutter } from './declutter.js';
import { PriorityLabels } from './labels-layer.js';
import { isStale } from './state.js';

const PRIORITY_CLASSES = [1, 2, 3, 4, 5].map((p) => `hex-p${p}`);

export class IncidentMap {
  /**
   * @param {HTMLElement} el the map's container
   * @param {object} opts {tenant, cells: CellOutlines, onSelect(id), onPick(latlng), unitLabel(id, unit)}
   */
  constructor(el, { tenant, cells, onSelect, onPick, describeUnit }) {
    this.cells = cells;
    this.onSelect = onSelect;
    this.onPick = onPick;
    this.describeUnit = describeUnit;
    this.hexes = new Map();   // incident id → {layer, cell, priority}
    this.markers = new Map(); // unit id → {marker, look, size}
    this.layoutFrame = null;
    this.selected = null;
    this.picking = false;
    this.map = L.map(el, { zoomControl: true, attributionControl: Boolean(tenant.tiles), keyboard: true });
    if (tenant.tiles) {
      L.tileLayer(tenant.tiles.url, { attribution: tenant.tiles.attribution }).addTo(this.map);
    }
    L.geoJSON(tenant.outline, { interactive: false, style: { className: 'town-outline' } }).addTo(this.map);
    this.map.fitBounds(tenant.bounds);
    this.noticeLayer = L.layerGroup().addTo(this.map);
    this.labels = new PriorityLabels().addTo(this.map);
    this.map.on('click', (e) => { if (this.picking) this.onPick(e.latlng); });
    this.map.on('zoomend moveend resize', () => this.scheduleLayout());
  }

  /** Patch the layers that the changes touch. */
  update(state, changes, now) {
    const ids = changes.all ? new Set([...this.hexes.keys(), ...state.incidents.keys()])
      : new Set([...changes.incidents, ...changes.removed]);
    for (const id of ids) this.patchIncident(state.incidents.get(id), id);
    const units = changes.all ? new Set([...this.markers.keys(), ...state.units.keys()]) : changes.units;
    for (const id of units) this.patchUnit(state.units.get(id), id, now);
  }

  /** Re-draw stale-ness, which changes with time alone. */
  tick(state, now) {
    for (const [id, u] of state.units) this.patchUnit(u, id, now);
  }

  patchIncident(inc, id) {
    const hex = this.hexes.get(id);
    if (!inc) {
      if (hex) { hex.layer?.remove(); this.hexes.delete(id); this.labels.delete(id); this.scheduleLayout(); }
      return;
    }
    if (hex && hex.cell === inc.cell) {
      if (hex.priority !== inc.priority) this.restyle(hex, inc.priority);
      return;
    }
    if (hex) { hex.layer?.remove(); this.hexes.delete(id); }
    const entry = { id, layer: null, cell: inc.cell, priority: inc.priority, centre: null };
    this.hexes.set(id, entry);
    this.cells.load([inc.cell]).then(() => this.draw(id, entry));
  }

  draw(id, entry) {
    const outline = this.cells.get(entry.cell);
    if (!outline || this.hexes.get(id) !== entry) return; // gone, moved, or not loaded
    const layer = L.polygon(outline, { className: `hex hex-p${entry.priority}`, weight: 2 });
    layer.on('click', (e) => {
      L.DomEvent.stopPropagation(e);
      if (this.picking) this.onPick(e.latlng);
      else this.onSelect(id);
    });
    entry.layer = layer.addTo(this.map);
    entry.centre = layer.getBounds().getCenter();
    this.labels.set(id, entry.centre, entry.priority);
    this.scheduleLayout(); // unit names keep off the new label
    if (this.selected === id) this.highlight(id, true);
  }

  restyle(hex, priority) {
    hex.priority = priority;
    if (!hex.layer) return;
    const path = hex.layer.getElement();
    path?.classList.remove(...PRIORITY_CLASSES);
    path?.classList.add(`hex-p${priority}`);
    this.labels.set(hex.id, hex.centre, priority);
    this.scheduleLayout(); // a heap's most urgent label may have changed
  }

  /** Highlight an incident's hexagon (and bring it into view). */
  select(id) {
    if (this.selected) this.highlight(this.selected, false);
    this.selected = id;
    if (id) this.highlight(id, true);
  }

  highlight(id, on) {
    const layer = this.hexes.get(id)?.layer;
    if (!layer) return;
    layer.getElement()?.classList.toggle('selected', on);
    if (!on) return;
    layer.bringToFront();
    const centre = layer.getBounds().getCenter();
    if (!this.map.getBounds().contains(centre)) this.map.panTo(centre);
  }

  patchUnit(u, id, now) {
    const entry = this.markers.get(id);
    if (!u || u.lat === undefined || u.lon === undefined) {
      if (entry) { entry.marker.remove(); this.markers.delete(id); this.scheduleLayout(); }
      return;
    }
    const look = `${u.status}|${isStale(u, now) ? 'stale' : 'fresh'}|${u.online ? 'on' : 'off'}`;
    if (!entry) {
      const marker = L.marker([u.lat, u.lon], { icon: this.icon(u, id, look), interactive: false, keyboard: false });
      this.markers.set(id, { marker: marker.addTo(this.map), look, size: null });
      this.scheduleLayout();
      return;
    }
    const was = entry.marker.getLatLng();
    if (was.lat !== u.lat || was.lng !== u.lon) {
      entry.marker.setLatLng([u.lat, u.lon]);
      this.scheduleLayout();
    }
    if (entry.look !== look) {
      entry.look = look;
      entry.size = null; // a new element: measured again
      entry.marker.setIcon(this.icon(u, id, look));
      this.scheduleLayout();
    }
  }

  /** Move the unit labels apart, at most once a frame (positions come ≤ 1/s per unit). */
  scheduleLayout() {
    if (this.layoutFrame) return;
    this.layoutFrame = requestAnimationFrame(() => {
      this.layoutFrame = null;
      this.layout();
    });
  }

  layout() {
    const boxes = [];
    const labels = new Map();
    for (const [id, entry] of this.markers) {
      const label = entry.marker.getElement()?.firstElementChild;
      if (!label) continue;
      entry.size ||= { w: label.offsetWidth, h: label.offsetHeight };
      const at = this.map.latLngToContainerPoint(entry.marker.getLatLng());
      boxes.push({ id, x: at.x, y: at.y, ...entry.size });
      labels.set(id, label);
    }
    for (const [id, dy] of declutter(boxes, this.labels.boxes())) {
      const marker = labels.get(id).parentElement; // its label and leader read --dy
      marker.style.setProperty('--dy', `${dy}px`);
      marker.classList.toggle('displaced', dy !== 0);
    }
  }

  icon(u, id, look) {
    const [status, stale, online] = look.split('|');
    return L.divIcon({
      className: `unit-marker unit-${status} unit-${stale} unit-${online}`,
      html: h('span', { title: this.describeUnit(id, u) }, id),
      iconSize: null,
    });
  }

  /** Notice composer: map clicks pick cells instead of selecting incidents. */
  setPicking(on) {
    this.picking = on;
    this.map.getContainer().classList.toggle('picking', on);
  }

  /** Draw the notice composer's chosen cells. */
  async showNoticeCells(cells) {
    await this.cells.load(cells);
    this.noticeLayer.clearLayers();
    for (const cell of cells) {
      const outline = this.cells.get(cell);
      if (outline) L.polygon(outline, { className: 'notice-cell', interactive: false }).addTo(this.noticeLayer);
    }
  }

  /** The map's centre, for picking a cell without a mouse. */
  centre() {
    return this.map.getCenter();
  }
}
