// H3 cell outlines from the hub (GET /api/v1/cells), cached for the page's life.
// Rule: the browser has no H3 library; every outline comes through here, in
// batches (one request per ≤ 500 cells wanted within the same tick).

const BATCH = 500; // the API's limit per request

export class CellOutlines {
  /** @param {(path: string) => Promise<any>} fetchJSON GET with the console's token. */
  constructor(fetchJSON) {
    this.fetchJSON = fetchJSON;
    this.outlines = new Map(); // cell → [[lat, lon], ...]
    this.pending = new Map();  // cell → Promise<void> of the batch fetching it
    this.queued = new Set();
    this.flush = null;
  }

  /** The cached outline of a cell as Leaflet [lat, lon] pairs, or undefined. */
  get(cell) {
    return this.outlines.get(cell);
  }

  /** Resolves when every cell's outline is cached (or its batch failed). */
  load(cells) {
    const waits = [];
    for (const cell of cells) {
      if (this.outlines.has(cell)) continue;
      if (!this.pending.has(cell)) this.queued.add(cell);
      waits.push(this.pending.get(cell) || this.scheduleFlush());
    }
    return Promise.all(waits).then(() => undefined);
  }

  scheduleFlush() {
    if (!this.flush) {
      this.flush = new Promise((resolve) => setTimeout(resolve, 0)).then(() => this.fetchQueued());
    }
    return this.flush;
  }

  async fetchQueued() {
    this.flush = null;
    const cells = [...this.queued];
    this.queued.clear();
    const batches = [];
    for (let i = 0; i < cells.length; i += BATCH) {
      const batch = cells.slice(i, i + BATCH);
      const done = this.fetchBatch(batch);
      for (const cell of batch) this.pending.set(cell, done);
      batches.push(done);
    }
    await Promise.all(batches);
  }

  async fetchBatch(cells) {
    try {
      const collection = await this.fetchJSON(`/api/v1/cells?cells=${cells.join(',')}`);
      for (const feature of collection.features || []) {
        const ring = feature.geometry.coordinates[0];
        this.outlines.set(feature.properties.cell, ring.map(([lon, lat]) => [lat, lon]));
      }
    } catch (err) {
      console.warn('cell outlines not loaded', err); // retried the next time they are wanted
    } finally {
      for (const cell of cells) this.pending.delete(cell);
    }
  }
}
