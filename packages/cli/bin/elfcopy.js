#!/usr/bin/env node
// The published bin: a stable file that exists before the TypeScript build has run.
import '../dist/main.js';
