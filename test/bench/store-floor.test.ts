import { describe, expect, it } from 'vitest';
import { measureStoreFloor } from '../../src/bench/store-floor.js';

describe('store floor benchmark', () => {
  it('writes the rows each pattern claims', () => {
    const r = measureStoreFloor({ packs: 50, events: 40, epcsPerEvent: 10, eventsPerBlock: 7 });
    // Per event: 10 packs updated, 10 custody steps, the event, its shipment, a stock row, 3 index rows.
    expect(r.currentLayout.rowsPerEvent).toBe(26);
    expect(r.packRowsAndEvent.rowsPerEvent).toBe(11);
    expect(r.eventOnly.rowsPerEvent).toBe(1);
    // 50 packs; 400 custody steps, 40 events, 40 shipments, 10 stock rows; 40 events; 40 events. Pack updates add no rows.
    expect(r.rowsAtEnd).toEqual({ state: 50 + 400 + 40 + 40 + 10 + 40 + 40, idx: 120 });
    for (const p of [r.currentLayout, r.packRowsAndEvent, r.eventOnly]) {
      expect(p.events).toBe(40);
      expect(p.eventsPerSecond).toBeGreaterThan(0);
    }
  });
});
