/**
 * A static x86-64 program that prints what /proc/cpuinfo would say of the CPU it runs on — vendor_id and
 * the kernel's names for the CPUID feature bits the loader's CPU tests read — so a CPU emulated by
 * `qemu-x86_64-static -cpu MODEL` can be described to the CPU model exactly as a real machine's
 * /proc/cpuinfo is. Names and bits are Linux's (arch/x86/include/asm/cpufeatures.h); like the kernel,
 * it drops the AVX and AVX-512 features when the OS has not enabled their register state (XCR0).
 */
import { compileC } from './fixtures.js';

const SOURCE = String.raw`
#include <cpuid.h>
#include <stdio.h>
#include <string.h>

struct bit { unsigned reg, bit; const char *name; int state; };
/* reg: 0 = 1.EDX, 1 = 1.ECX, 2 = 7.0.EBX, 3 = 0x80000001.ECX. state: 0 none, 1 YMM, 2 ZMM. */
static const struct bit bits[] = {
  {0, 0, "fpu", 0}, {0, 8, "cx8", 0}, {0, 15, "cmov", 0}, {0, 23, "mmx", 0}, {0, 24, "fxsr", 0},
  {0, 25, "sse", 0}, {0, 26, "sse2", 0},
  {1, 0, "pni", 0}, {1, 9, "ssse3", 0}, {1, 12, "fma", 1}, {1, 13, "cx16", 0}, {1, 19, "sse4_1", 0},
  {1, 20, "sse4_2", 0}, {1, 22, "movbe", 0}, {1, 23, "popcnt", 0}, {1, 26, "xsave", 0},
  {1, 28, "avx", 1}, {1, 29, "f16c", 1},
  {2, 3, "bmi1", 0}, {2, 5, "avx2", 1}, {2, 8, "bmi2", 0}, {2, 16, "avx512f", 2}, {2, 17, "avx512dq", 2},
  {2, 26, "avx512pf", 2}, {2, 27, "avx512er", 2}, {2, 28, "avx512cd", 2}, {2, 30, "avx512bw", 2},
  {2, 31, "avx512vl", 2},
  {3, 0, "lahf_lm", 0}, {3, 5, "abm", 0},
};

int main (void)
{
  unsigned a, b, c, d, r[4] = {0, 0, 0, 0};
  char vendor[13];
  __cpuid (0, a, b, c, d);
  unsigned max = a;
  memcpy (vendor, &b, 4); memcpy (vendor + 4, &d, 4); memcpy (vendor + 8, &c, 4); vendor[12] = 0;
  __cpuid (1, a, b, c, d); r[0] = d; r[1] = c;
  if (max >= 7) { __cpuid_count (7, 0, a, b, c, d); r[2] = b; }
  __cpuid (0x80000000, a, b, c, d);
  if (a >= 0x80000001) { __cpuid (0x80000001, a, b, c, d); r[3] = c; }
  unsigned long long xcr0 = 0;
  if (r[1] & (1u << 27)) { unsigned lo, hi; __asm__ volatile ("xgetbv" : "=a" (lo), "=d" (hi) : "c" (0)); xcr0 = ((unsigned long long) hi << 32) | lo; }
  int ymm = (xcr0 & 0x6) == 0x6, zmm = ymm && (xcr0 & 0xe0) == 0xe0;
  printf ("vendor_id\t: %s\nflags\t\t:", vendor);
  for (unsigned i = 0; i < sizeof bits / sizeof bits[0]; i++)
    if ((r[bits[i].reg] >> bits[i].bit & 1) && (bits[i].state == 0 || (bits[i].state == 1 ? ymm : zmm)))
      printf (" %s", bits[i].name);
  printf ("\n");
  return 0;
}
`;

/** Builds the program (gcc -static) in `dir` and returns its path. */
export function buildCpuinfoProbe(dir: string): string {
  return compileC(dir, 'cpuid-cpuinfo', SOURCE, ['-static', '-O2']);
}
