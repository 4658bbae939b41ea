#!/usr/bin/env node
// Entry point of the `medchain` CLI; the TypeScript sources are compiled to dist/ by `npm ci` (prepare script).
import '../dist/cli/main.js';
