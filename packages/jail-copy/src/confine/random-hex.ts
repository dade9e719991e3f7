/**
 * Random hex for the names elfcopy makes in a jail (temporaries, staging files), drawn from a pool of
 * the system CSPRNG's bytes refilled 4 KiB at a time. Each byte is used once, so a name is as
 * unpredictable as with one call per name; one call per name cost 25-90 µs inside a copy (OpenSSL's
 * RAND_bytes beside the copy worker's hashing): 3.6-13.7 ms of the main thread for the 152 staging
 * names of php-fpm's jail, and as much again for its temporaries. Filled on first use, so a run that
 * writes nothing loads no crypto; node:crypto when Node can hand it over synchronously (Node 20.16:
 * process.getBuiltinModule; a writing run has loaded it already), Web Crypto otherwise.
 */
const POOL = 4096;
let pool = new Uint8Array(0);
let used = 0;

function fill(bytes: Uint8Array): void {
  const nodeCrypto = typeof process.getBuiltinModule === 'function' ? process.getBuiltinModule('node:crypto') : undefined;
  if (nodeCrypto) nodeCrypto.randomFillSync(bytes);
  else globalThis.crypto.getRandomValues(bytes);
}

/** `bytes` random bytes (at most 4096) as lower-case hex. */
export function randomHex(bytes: number): string {
  if (bytes > POOL) throw new RangeError(`randomHex: at most ${POOL} bytes`);
  if (used + bytes > pool.length) {
    pool = new Uint8Array(POOL);
    fill(pool);
    used = 0;
  }
  const hex = Buffer.from(pool.buffer, pool.byteOffset + used, bytes).toString('hex');
  // Never handed out twice.
  pool.fill(0, used, used + bytes);
  used += bytes;
  return hex;
}
