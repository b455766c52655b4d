// Pure tests of the unit labels' layout (hub/web/static/console/declutter.js).
import { declutter, gather } from '../../hub/web/static/console/declutter.js';

function eq(a, b, what = '') {
  if (a !== b) throw new Error(`${what}: ${JSON.stringify(a)} !== ${JSON.stringify(b)}`);
}

const label = (id, x, y, w = 80, h = 18) => ({ id, x, y, w, h });

function apart(boxes, offsets, gap = 2) {
  const moved = boxes.map((b) => ({ ...b, y: b.y + offsets.get(b.id) }));
  for (const [i, a] of moved.entries()) {
    for (const b of moved.slice(i + 1)) {
      const overlap = Math.abs(a.x - b.x) < (a.w + b.w) / 2 + gap && Math.abs(a.y - b.y) < (a.h + b.h) / 2 + gap;
      if (overlap) throw new Error(`${a.id} and ${b.id} overlap`);
    }
  }
}

export function test_labels_apart_stay_where_they_are() {
  const offsets = declutter([label('a', 100, 100), label('b', 300, 100), label('c', 100, 200)]);
  eq([...offsets.values()].join(), '0,0,0', 'nothing moved');
}

export function test_a_pile_of_labels_is_spread_over_rows_nearest_first() {
  const pile = ['p1', 'p2', 'p3', 'p4', 'p5'].map((id) => label(id, 200, 200));
  const offsets = declutter(pile);
  apart(pile, offsets);
  eq(offsets.get('p1'), 0, 'the first stays');
  eq(offsets.get('p2'), 20, 'one row down (18 px + 2)');
  eq(offsets.get('p3'), -20, 'then one row up');
  eq(Math.max(...[...offsets.values()].map(Math.abs)), 40, 'five labels: two rows each way');
}

export function test_labels_keep_off_the_obstacles() {
  const boxes = [label('u', 200, 200, 60, 18)];
  const offsets = declutter(boxes, [{ x: 200, y: 200, w: 22, h: 14 }]);
  eq(offsets.get('u'), 20, 'moved off the priority label');
}

export function test_the_same_input_in_another_order_gives_the_same_layout() {
  const boxes = [label('x', 10, 10), label('y', 12, 11), label('z', 11, 10)];
  const one = declutter(boxes);
  const two = declutter([...boxes].reverse());
  for (const b of boxes) eq(one.get(b.id), two.get(b.id), b.id);
}

const prio = (id, x, y, priority) => ({ id, x, y, w: 22, h: 14, priority });

export function test_a_heap_of_priority_labels_shows_its_most_urgent_with_a_count() {
  const kept = gather([prio('in1', 100, 100, 4), prio('in2', 105, 102, 1), prio('in3', 98, 96, 3)]);
  eq(kept.length, 1, 'one label for the heap');
  eq(kept[0].id, 'in2', 'the P1');
  eq(kept[0].more, 2, 'standing for two more');
}

export function test_priority_labels_apart_are_all_kept_most_urgent_first() {
  const kept = gather([prio('in1', 100, 100, 4), prio('in2', 200, 100, 2), prio('in3', 100, 200, 2)]);
  eq(kept.map((k) => `${k.id}:${k.more}`).join(), 'in2:0,in3:0,in1:0', 'all kept, P2s first by id');
}
