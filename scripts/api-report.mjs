#!/usr/bin/env node
/**
 * The public surface of each package, locked: api-extractor writes an API report of each entry point
 * (packages/NAME/api/*.api.md, from the built .d.ts files) and this script fails when a report differs
 * from the one checked in — a change to a package's surface is then a deliberate one, reviewed as a diff.
 *
 *   node scripts/api-report.mjs           check (npm run lint, and packages/cli/test/api-report.test.ts)
 *   node scripts/api-report.mjs --update  rewrite the reports (npm run api:update, after npm run build)
 */
import { Extractor, ExtractorConfig } from '@microsoft/api-extractor';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');
const update = process.argv.includes('--update');

/** [package folder, report name, entry .d.ts under dist]: every entry point the exports map offers. */
const ENTRIES = [
  ['elf-deps', 'elf-deps', 'index.d.ts'],
  ['elf-deps', 'elf-deps-internal', 'internal.d.ts'],
  ['jail-copy', 'jail-copy', 'index.d.ts'],
  ['jail-copy', 'jail-copy-internal', 'internal.d.ts'],
  ['jail-copy', 'jail-copy-copy', 'run/copy-into-jail.d.ts'],
  ['jail-copy', 'jail-copy-defaults', 'defaults.d.ts'],
  ['jail-copy', 'jail-copy-profile-spec', 'profiles/profile-spec.d.ts'],
  ['cli', 'elfcopy', 'main.d.ts'],
];

const temp = fs.mkdtempSync(path.join(os.tmpdir(), 'elfcopy-api-'));
let failed = 0;
try {
  for (const [pkg, name, entry] of ENTRIES) {
    const projectFolder = path.join(root, 'packages', pkg);
    const reportFolder = path.join(projectFolder, 'api');
    fs.mkdirSync(reportFolder, { recursive: true });
    const config = ExtractorConfig.prepare({
      configObject: {
        projectFolder,
        mainEntryPointFilePath: path.join(projectFolder, 'dist', entry),
        bundledPackages: [],
        compiler: { tsconfigFilePath: path.join(projectFolder, 'tsconfig.json') },
        apiReport: { enabled: true, reportFileName: `${name}.api.md`, reportFolder, reportTempFolder: temp },
        docModel: { enabled: false },
        dtsRollup: { enabled: false },
        tsdocMetadata: { enabled: false },
        newlineKind: 'lf',
        messages: {
          compilerMessageReporting: { default: { logLevel: 'warning' } },
          // The report is the lock; release tags and TSDoc syntax are not this project's convention.
          extractorMessageReporting: {
            default: { logLevel: 'none' },
            'ae-forgotten-export': { logLevel: 'none', addToApiReportFile: true },
          },
          tsdocMessageReporting: { default: { logLevel: 'none' } },
        },
      },
      configObjectFullPath: path.join(projectFolder, 'api-extractor.json'),
      packageJsonFullPath: path.join(projectFolder, 'package.json'),
    });
    const result = Extractor.invoke(config, { localBuild: update, showVerboseMessages: false, messageCallback: (m) => void (m.handled = m.logLevel === 'none' || m.logLevel === 'verbose' || m.messageId === 'console-preamble') });
    if (result.apiReportChanged && !update) {
      failed++;
      console.error(`api-report: packages/${pkg}/api/${name}.api.md differs from the surface the build exports (see ${path.join(temp, `${name}.api.md`)}); if the change is meant, run npm run api:update and commit the report`);
    } else if (!result.succeeded && !update) {
      failed++;
      console.error(`api-report: ${name}: api-extractor failed (${result.errorCount} errors)`);
    }
  }
} finally {
  if (failed === 0) fs.rmSync(temp, { recursive: true, force: true });
}
process.exit(failed ? 1 : 0);
