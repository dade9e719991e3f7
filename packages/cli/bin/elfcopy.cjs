#!/usr/bin/env node
// The published bin: a stable file that exists before the build has run; the work is in the bundle.
require('../dist/elfcopy.cjs');
