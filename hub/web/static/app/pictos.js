// One simple pictogram per category, drawn as inline SVG (no image file, no
// external asset). Unknown categories (another town's configuration) get the
// generic one. The pictogram is decorative: the button is named by its label.

const SVG = 'http://www.w3.org/2000/svg';

const circle = (cx, cy, r) => `M${cx - r} ${cy}a${r} ${r} 0 1 0 ${2 * r} 0a${r} ${r} 0 1 0 ${-2 * r} 0`;

/** Category id → SVG path (24 × 24 box, stroked). */
export const PICTOS = {
  violence: 'M13 2L4 14h7l-1 8 9-12h-7z',
  burglary: 'M3 11L12 3l9 8M5 10v11h14V10M10 21v-6h4v6',
  fire: 'M12 2c3 5 7 7 7 12a7 7 0 0 1-14 0c0-3 2-5 3-6 0 3 1 4 2 4 0-4 1-7 2-10z',
  rodeo: `${circle(6, 16, 3)}${circle(18, 16, 3)}M6 16l4-7h4l4 7M10 9L8 6H5M14 9l2-3h2`,
  suspicious: `M2 12c3-6 17-6 20 0-3 6-17 6-20 0z${circle(12, 12, 3)}`,
  theft: 'M5 8h14l-1 13H6zM9 8V6a3 3 0 0 1 6 0v2',
  vandalism: 'M4 4h16v16H4zM4 12l6-2 2 4 8-3',
  neighbour_dispute: 'M3 5h10v7H8l-3 3v-3H3zM11 14h10V9h-6M16 14l3 3v-3',
  road_hazard: 'M12 3l10 17H2zM12 10v4M12 17v.5',
  noise: 'M4 9h4l5-4v14l-5-4H4zM16 9a4 4 0 0 1 0 6M18.5 6.5a7.5 7.5 0 0 1 0 11',
  incivility: 'M4 6h16M9 6V4h6v2M6 6l1 14h10l1-14M10 10v7M14 10v7',
  other: `${circle(12, 12, 9)}M8 12h.01M12 12h.01M16 12h.01`,
};

/** An `<svg>` element drawing the category's pictogram, hidden from assistive technology. */
export function picto(category) {
  const svg = document.createElementNS(SVG, 'svg');
  svg.setAttribute('viewBox', '0 0 24 24');
  svg.setAttribute('aria-hidden', 'true');
  svg.setAttribute('focusable', 'false');
  svg.setAttribute('class', 'picto');
  const path = document.createElementNS(SVG, 'path');
  path.setAttribute('d', PICTOS[category] ?? PICTOS.other);
  svg.append(path);
  return svg;
}
