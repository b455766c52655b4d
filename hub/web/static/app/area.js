// Pure geometry of the resident's area: is a point in the town (the outline
// from the tenant configuration, GeoJSON [lon, lat] order), and which points
// around a position to ask the hub's cell lookup for, so notices for the
// neighbouring cells reach me too (the browser has no H3 library).

/** Whether (lat, lon) lies inside the GeoJSON Polygon `outline` (outer ring; even-odd rule). */
export function inside(outline, lat, lon) {
  const ring = outline?.coordinates?.[0];
  if (!ring) return true; // no outline known: let the hub decide
  let odd = false;
  for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) {
    const [xi, yi] = ring[i];
    const [xj, yj] = ring[j];
    if ((yi > lat) !== (yj > lat) && lon < ((xj - xi) * (lat - yi)) / (yj - yi) + xi) odd = !odd;
  }
  return odd;
}

const EARTH_M = 6371008.8;

/**
 * `lat, lon` and six points `metres` away around it (every 60°): with the
 * distance of a cell's width, their cells are the position's cell and its ring.
 */
export function around(lat, lon, metres) {
  const dLat = (metres / EARTH_M) * (180 / Math.PI);
  const dLon = dLat / Math.cos((lat * Math.PI) / 180);
  const points = [[lat, lon]];
  for (let k = 0; k < 6; k++) {
    const a = (k * Math.PI) / 3;
    points.push([lat + dLat * Math.sin(a), lon + dLon * Math.cos(a)]);
  }
  return points;
}
