// Pure tests of the console's labels (hub/web/static/console/labels.js).
import { coverageLine } from '../../hub/web/static/console/labels.js';
import { setLang } from '../../hub/web/static/shared/i18n.js';

function eq(a, b, what = '') {
  if (a !== b) throw new Error(`${what}: ${JSON.stringify(a)} !== ${JSON.stringify(b)}`);
}

const SECTORS = new Map([['873963a62ffffff', 'centre'], ['873963a4dffffff', 'nord']]);

export function test_coverage_names_the_towns_sectors_never_an_h3_id() {
  setLang('en');
  eq(coverageLine({ sector: ['873963a62ffffff'], cell: '893963a62cfffff' }, SECTORS),
    'sector centre · around its position', 'one named sector, with a position');
  eq(coverageLine({ sector: ['873963a62ffffff', '873963a4dffffff'], cell: null }, SECTORS),
    'sectors centre, nord', 'two named sectors, no position yet');
  eq(coverageLine({ sector: [], cell: '893963a62cfffff' }, SECTORS), 'around its position', 'no sector');
  eq(coverageLine({ cell: null }, SECTORS), '', 'nothing known');
}

export function test_coverage_counts_unnamed_cells_with_the_right_plural() {
  setLang('en');
  eq(coverageLine({ sector: ['873963a60ffffff'], cell: null }, SECTORS), '1 cell', 'one');
  eq(coverageLine({ sector: ['873963a62ffffff', '873963a60ffffff'], cell: null }, SECTORS),
    '2 cells', 'a named one among unnamed ones: counted');
  setLang('fr');
  eq(coverageLine({ sector: ['873963a60ffffff'], cell: '893963a62cfffff' }, SECTORS),
    '1 cellule · autour de sa position', 'French');
  eq(coverageLine({ sector: ['873963a62ffffff'], cell: null }, SECTORS), 'secteur centre', 'French name');
}
