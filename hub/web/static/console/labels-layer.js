// The map's priority labels ("P1"…"P5" on each incident's hexagon), drawn on one
// canvas. Why not a Leaflet tooltip per hexagon: hundreds of permanent HTML
// labels over the map cost the page more to paint than everything else it does
// (scripts/bench_console.py measured it); one canvas redrawn at most once per
// frame costs about a millisecond. The labels repeat what the queue says, so the
// canvas is hidden from assistive technology. Labels that would overlap are drawn
// as one, the most urgent with a count ("P1 +2": declutter.js `gather`).
/* global L */

import { gather } from './declutter.js';

const FONT = '700 11px system-ui, sans-serif';
const W = 22; // px, a label's box
const H = 14;

function cssColour(name) {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim() || '#fff';
}

export const PriorityLabels = L.Layer.extend({
  initialize() {
    this.labels = new Map(); // id → {latlng, priority}
    this.frame = null;
  },

  onAdd(map) {
    this.canvas = L.DomUtil.create('canvas', 'priority-labels leaflet-zoom-hide');
    this.canvas.setAttribute('aria-hidden', 'true');
    // Their own pane, above the hexagons (overlayPane, z-index 400) and the units'
    // markers (600): the units' names keep off these labels (declutter.js), so only
    // a unit's dot or the line to its name can pass under one, never over it.
    const pane = map.getPane('priorityLabels') || map.createPane('priorityLabels');
    pane.style.zIndex = 640; // below the tooltips (650)
    pane.style.pointerEvents = 'none';
    pane.appendChild(this.canvas);
    this.colours = [1, 2, 3, 4, 5].map((p) => [cssColour(`--p${p}`), cssColour(`--on-p${p}`)]);
    map.on('moveend zoomend resize', this.redraw, this);
    this.redraw();
  },

  onRemove(map) {
    map.off('moveend zoomend resize', this.redraw, this);
    this.canvas.remove();
  },

  /** Label (or relabel) incident `id` at `latlng`. */
  set(id, latlng, priority) {
    this.labels.set(id, { latlng, priority });
    this.redraw();
  },

  delete(id) {
    if (this.labels.delete(id)) this.redraw();
  },

  /** The drawn labels' boxes, centred, in container px (what unit names avoid). */
  boxes() {
    return this.layout().map(({ x, y, w, h }) => ({ x, y, w, h }));
  },

  /** What is drawn, for tests: [[id, priority], ...] (a heap: its most urgent). */
  drawn() {
    return this.layout().map((l) => [l.id, l.priority]);
  },

  /** How many labels each drawn one stands for besides itself, for tests: {id: n}. */
  gathered() {
    return Object.fromEntries(this.layout().map((l) => [l.id, l.more]));
  },

  /** The labels on screen, heaps gathered, each with its text and width. */
  layout() {
    const map = this._map;
    if (!map) return [];
    const size = map.getSize();
    const onScreen = [];
    for (const [id, { latlng, priority }] of this.labels) {
      const at = map.latLngToContainerPoint(latlng);
      if (at.x < -20 || at.y < -20 || at.x > size.x + 20 || at.y > size.y + 20) continue;
      onScreen.push({ id, x: at.x, y: at.y, w: W, h: H, priority });
    }
    const ctx = this.canvas.getContext('2d'); // measuring only: draw() sets its own state
    ctx.font = FONT;
    return gather(onScreen).map((l) => {
      const text = l.more ? `P${l.priority} +${l.more}` : `P${l.priority}`;
      return { ...l, text, w: Math.max(W, Math.ceil(ctx.measureText(text).width) + 8) };
    });
  },

  redraw() {
    if (this.frame || !this._map) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = null;
      this.draw();
    });
  },

  draw() {
    const map = this._map;
    if (!map) return;
    const size = map.getSize();
    const ratio = window.devicePixelRatio || 1;
    this.canvas.width = size.x * ratio;
    this.canvas.height = size.y * ratio;
    this.canvas.style.width = `${size.x}px`;
    this.canvas.style.height = `${size.y}px`;
    L.DomUtil.setPosition(this.canvas, map.containerPointToLayerPoint([0, 0]));
    const ctx = this.canvas.getContext('2d');
    ctx.scale(ratio, ratio);
    ctx.font = FONT;
    ctx.textAlign = 'center';
    ctx.textBaseline = 'middle';
    // The most urgent last, so they are on top where a heap's count makes it wider.
    for (const { x, y, w, priority, text } of this.layout().reverse()) {
      const [fill, ink] = this.colours[priority - 1] || this.colours[4];
      ctx.fillStyle = fill;
      ctx.fillRect(x - w / 2, y - H / 2, w, H);
      ctx.fillStyle = ink;
      ctx.fillText(text, x, y + 0.5);
    }
  },
});
