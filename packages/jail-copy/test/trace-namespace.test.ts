/**
 * `elfcopy trace` leaves no process it started, daemons included: the command runs in its own PID
 * namespace, ended whole at the timeout; and it returns as soon as everything it started has exited.
 * Oracle: the host's /proc (every process's command line), after trace returns; wall-clock time.
 */
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { elfcopy, gcc, requireRoot, tempDir } from './helpers/jail.js';

const tmp = tempDir('trace-ns');
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** A daemon as daemons are made: fork, setsid, fork again, parent exits; the grandchild sleeps forever. */
const daemon = path.join(tmp, 'daemon');
beforeAll(() => {
  requireRoot();
  gcc(
    daemon,
    `#include <unistd.h>
#include <stdlib.h>
int main(void) {
  if (fork() > 0) return 0;
  setsid();
  if (fork() > 0) _exit(0);
  for (;;) pause();
}
`,
  );
});

/** Host pids whose command line contains `marker` (read from /proc, the kernel's own list). */
function processesWith(marker: string): number[] {
  const out: number[] = [];
  for (const n of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(n) || Number(n) === process.pid) continue;
    try {
      if (fs.readFileSync(`/proc/${n}/cmdline`, 'latin1').split('\0').some((a) => a.includes(marker))) out.push(Number(n));
    } catch {
      // Gone meanwhile.
    }
  }
  return out;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === 'object' && addr ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}

interface TraceJson {
  timedOut: boolean;
  exitCode: number | null;
  contained: boolean;
  objects: string[];
}

describe('trace ends everything it started', () => {
  for (const method of ['strace', 'ld-debug']) {
    it(`${method}: a daemon (fork, setsid, fork) is ended at the timeout`, async () => {
      // The marker is an argument the daemon carries: its own copy of the program, under a unique name.
      const marked = path.join(tmp, `daemon-${method}-${process.pid}`);
      fs.copyFileSync(daemon, marked);
      fs.chmodSync(marked, 0o755);
      const t0 = Date.now();
      const r = await elfcopy(['trace', '--json', '--method', method, '--timeout', '2', '--', marked]);
      const elapsed = Date.now() - t0;
      expect(processesWith(marked), 'processes left behind').toEqual([]);
      const j = JSON.parse(r.stdout) as TraceJson;
      expect(j.contained).toBe(true);
      expect(j.timedOut).toBe(true);
      expect(elapsed).toBeGreaterThanOrEqual(2000);
      expect(elapsed).toBeLessThan(10_000);
    });

    it(`${method}: returns as soon as everything it started has exited (not at the timeout), with the command's status`, async () => {
      const t0 = Date.now();
      const r = await elfcopy(['trace', '--json', '--method', method, '--timeout', '30', '--', 'sh', '-c', '(sleep 1 &); exit 3']);
      const elapsed = Date.now() - t0;
      const j = JSON.parse(r.stdout) as TraceJson;
      expect(j.timedOut).toBe(false);
      expect(j.exitCode).toBe(3);
      expect(elapsed).toBeGreaterThanOrEqual(1000);
      expect(elapsed).toBeLessThan(8000);
    });
  }

  it('nginx -c CONF: the master and its workers are gone when trace returns, and what nginx loads is reported', async () => {
    const conf = path.join(tmp, 'nginx.conf');
    fs.writeFileSync(
      conf,
      `pid ${tmp}/nginx.pid;\nerror_log ${tmp}/error.log;\nevents {}\nhttp { access_log off; server { listen 127.0.0.1:${await freePort()}; } }\n`,
    );
    const r = await elfcopy(['trace', '--json', '--timeout', '3', '--', '/usr/sbin/nginx', '-c', conf]);
    expect(processesWith(conf), 'nginx processes left behind').toEqual([]);
    const j = JSON.parse(r.stdout) as TraceJson;
    expect(j.timedOut).toBe(true);
    expect(j.objects).toContain(fs.realpathSync('/lib/x86_64-linux-gnu/libc.so.6'));
  });
});
