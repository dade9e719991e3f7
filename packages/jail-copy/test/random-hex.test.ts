/**
 * The random part of the names elfcopy makes in a jail (random-hex.ts): from a pool of CSPRNG bytes,
 * each byte handed out once. Oracles: the hex alphabet and length; no two names alike over many pool
 * refills (a byte reused, or a refill that did not happen, would repeat a name); the bytes spread as
 * random bytes do (every byte value seen, none far over its share).
 */
import { describe, expect, it } from 'vitest';
import { randomHex } from '../src/confine/random-hex.js';

describe('randomHex', () => {
  it('gives lower-case hex of twice the bytes asked for', () => {
    for (const n of [1, 6, 16, 4096]) expect(randomHex(n)).toMatch(new RegExp(`^[0-9a-f]{${2 * n}}$`));
    expect(() => randomHex(4097)).toThrow(RangeError);
  });

  it('never gives the same name twice across many refills of its pool', () => {
    const seen = new Set<string>();
    // 20,000 six-byte names: ~30 refills of the 4 KiB pool, and a birthday chance of ~1e-6 for 48 bits.
    for (let i = 0; i < 20_000; i++) seen.add(randomHex(6));
    expect(seen.size).toBe(20_000);
  });

  it('spreads its bytes as random bytes do', () => {
    const counts = new Array<number>(256).fill(0);
    const hex = Array.from({ length: 64 }, () => randomHex(1024)).join('');
    for (let i = 0; i < hex.length; i += 2) {
      const b = parseInt(hex.slice(i, i + 2), 16);
      counts[b] = (counts[b] ?? 0) + 1;
    }
    // 65,536 bytes: 256 expected per value; a zeroed (reused) byte would show as a huge count of 0.
    expect(Math.min(...counts)).toBeGreaterThan(150);
    expect(Math.max(...counts)).toBeLessThan(370);
  });
});
