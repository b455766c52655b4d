// The map's priority labels ("P1"…"P5" on each incident's hexagon), drawn on one
// canvas. Why not a Leaflet tooltip per hexagon: hundreds of permanent HTML
// labels over the map cost the page more to paint than everything else it does
// (scripts/bench_console.py measured it); one canvas redrawn at most once per
// frame costs about a millisecond. The labels repeat what the queue says, so the
// canvas is hidden from assistive technology.
/* global L */

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
    // Their own pane, above the hexagons (overlayPane, z-index 400) and below the units.
    const pane = map.getPane('priorityLabels') || map.createPane('priorityLabels');
    pane.style.zIndex = 450;
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

  /** The labels' boxes on screen, centred, in container px (what unit labels avoid). */
  boxes() {
    const map = this._map;
    if (!map) return [];
    return [...this.labels.values()].map(({ latlng }) => {
      const at = map.latLngToContainerPoint(latlng);
      return { x: at.x, y: at.y, w: W, h: H };
    });
  },

  /** What is drawn, for tests: [[id, priority], ...]. */
  drawn() {
    return [...this.labels].map(([id, l]) => [id, l.priority]);
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
    // The most urgent last, so they are on top where labels overlap.
    const order = [...this.labels.values()].sort((a, b) => b.priority - a.priority);
    for (const { latlng, priority } of order) {
      const at = map.latLngToContainerPoint(latlng);
      if (at.x < -20 || at.y < -20 || at.x > size.x + 20 || at.y > size.y + 20) continue;
      const [fill, text] = this.colours[priority - 1] || this.colours[4];
      ctx.fillStyle = fill;
      ctx.fillRect(at.x - W / 2, at.y - H / 2, W, H);
      ctx.fillStyle = text;
      ctx.fillText(`P${priority}`, at.x, at.y + 0.5);
    }
  },
});
