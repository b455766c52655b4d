// Unit labels on the map, kept apart. Units on a crowded spot (a shift starting at
// the station, three patrols at one incident) would draw their names on top of one
// another and over the incidents' priority labels, so nobody could read them. A
// label that would overlap one already placed moves up or down by whole rows,
// nearest free row first; the map marks the unit's true position with a dot.
// Pure: boxes in, offsets out (map.js measures and applies them).

const MAX_ROWS = 40; // rows tried each way before a label is left where it is

/**
 * Vertical offsets that keep the labels from overlapping each other and the
 * obstacles (labels that never move: the incidents' priorities).
 *
 * @param {{id: string, x: number, y: number, w: number, h: number}[]} boxes
 *   labels centred at (x, y), in px
 * @param {{x: number, y: number, w: number, h: number}[]} [obstacles] the same shape
 * @param {number} [gap] px kept between two labels
 * @returns {Map<string, number>} id → offset in px (0: left in place)
 */
export function declutter(boxes, obstacles = [], gap = 2) {
  const placed = [...obstacles];
  const offsets = new Map();
  // Top to bottom, then left to right, then by id: the same picture on every redraw.
  const order = [...boxes].sort((a, b) => a.y - b.y || a.x - b.x || (a.id < b.id ? -1 : 1));
  for (const box of order) {
    const row = box.h + gap;
    let dy = 0;
    for (let k = 1; k <= 2 * MAX_ROWS && placed.some((p) => overlaps(p, box, dy, gap)); k++) {
      dy = (k % 2 ? 1 : -1) * Math.ceil(k / 2) * row; // +1, -1, +2, -2... rows
    }
    if (placed.some((p) => overlaps(p, box, dy, gap))) dy = 0; // nowhere free: in place
    placed.push({ ...box, y: box.y + dy });
    offsets.set(box.id, dy);
  }
  return offsets;
}

function overlaps(p, box, dy, gap) {
  return Math.abs(p.x - box.x) < (p.w + box.w) / 2 + gap
    && Math.abs(p.y - (box.y + dy)) < (p.h + box.h) / 2 + gap;
}
