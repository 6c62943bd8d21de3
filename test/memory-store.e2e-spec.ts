import { BoundedMemoryStore, MEMORY_CACHE_LIMITS } from '../apps/incidents/src/cache/bounded-memory-store.js';
import { memoryBackend } from '../apps/incidents/src/cache/cache-backend.js';
import { waitFor } from './support/wait-for.js';

// The store behind the app's in-memory cache (no REDIS_URL), driven directly.
describe('the bounded memory store', () => {
  it('keeps at most the entry cap, dropping the least recently used', () => {
    const store = new BoundedMemoryStore({ maxEntries: 100, maxCharacters: 1_000_000 });
    for (let i = 0; i < 1_000; i++) store.set(`key-${i}`, 'value');
    expect(store.size).toBe(100);
    expect(store.has('key-999')).toBe(true);
    expect(store.has('key-0')).toBe(false);
  });

  it('holds the default cap of entries and no more', () => {
    const store = new BoundedMemoryStore();
    for (let i = 0; i < MEMORY_CACHE_LIMITS.maxEntries + 500; i++) store.set(`key-${i}`, 'value');
    expect(store.size).toBe(MEMORY_CACHE_LIMITS.maxEntries);
  });

  it('keeps keys and values within the character cap', () => {
    const store = new BoundedMemoryStore({ maxEntries: 1_000, maxCharacters: 1_000 });
    for (let i = 0; i < 100; i++) store.set(`key-${String(i).padStart(3, '0')}`, 'x'.repeat(93)); // 100 characters each
    expect(store.characters).toBeLessThanOrEqual(1_000);
    expect(store.size).toBe(10);
  });

  it('purges an entry when its ttl ends, without it being read', async () => {
    const store = new BoundedMemoryStore();
    store.set('short', 'value', 50);
    store.set('long', 'value', 60_000);
    store.set('forever', 'value');
    expect(store.size).toBe(3);
    // `size` reads nothing: it drops only when the purge timer has removed the entry.
    expect(await waitFor(() => store.size === 2)).toBe(true);
    expect(store.has('long')).toBe(true);
    expect(store.has('forever')).toBe(true);
  });

  it('gets the ttl Keyv passes (a bare number) as the entry ttl', async () => {
    const keyv = memoryBackend().stores[0];
    const store = keyv.store as BoundedMemoryStore;
    expect(await keyv.set('short', 'value', 50)).toBe(true);
    expect(await keyv.set('long', 'value', 60_000)).toBe(true);
    expect(await keyv.get('short')).toBe('value');
    expect(store.size).toBe(2);
    expect(await waitFor(() => store.size === 1)).toBe(true);
    expect(await keyv.get('long')).toBe('value');
  });
});
