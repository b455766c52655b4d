// The map's labels, kept readable. Pure: boxes in, layout out (map.js and
// labels-layer.js measure and draw).
//
// Units on a crowded spot (a shift starting at the station, three patrols at one
// incident) would draw their names on top of one another and over the incidents'
// priority labels (`declutter`): a name that would overlap one already placed moves
// up or down by whole rows, nearest free row first, and the map marks the unit's
// true position with a dot. Incidents in neighbouring cells, seen at the town's
// zoom, would pile their "P3" labels into an unreadable heap (`gather`): the most
// urgent of a heap is drawn, with how many more it stands for ("P1 +2"); zooming
// in takes the heap apart.

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

/**
 * Labels that would overlap, gathered: the most urgent of each heap (lowest
 * priority number, then id) is kept, with `more`, how many others it stands for.
 *
 * @param {{id: string, x: number, y: number, w: number, h: number, priority: number}[]} labels
 * @param {number} [gap] px kept between two labels
 * @returns {{id: string, x: number, y: number, w: number, h: number, priority: number, more: number}[]}
 *   the kept labels, most urgent first
 */
export function gather(labels, gap = 1) {
  const order = [...labels].sort((a, b) => a.priority - b.priority || (a.id < b.id ? -1 : 1));
  const kept = [];
  for (const label of order) {
    const heap = kept.find((k) => overlaps(k, label, 0, gap));
    if (heap) heap.more += 1;
    else kept.push({ ...label, more: 0 });
  }
  return kept;
}
