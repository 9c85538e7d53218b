#!/usr/bin/env node
// Regenerates ts/gauntlet/template-analysis.json: clang-tidy and cppcheck on
// the variant generator's covering renderings, the analysis every trusted
// rendering's static gate takes its analysers' findings from. Run it after
// changing the renderer or the analysers' checks (tests/gauntlet-template-analysis
// fails until you do); it reads the built code, so `npm run build:ts` first.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { packageRoot } from '../dist/native/loader.js';
import { analyseTemplate, TEMPLATE_ANALYSIS_FILE } from '../dist/ts/gauntlet/template-analysis.js';

const started = performance.now();
const analysis = await analyseTemplate(path.join(packageRoot, 'cpp', 'include'));
const stopped = analysis.renderings.some(({ findings }) => findings.some((finding) => finding.id === 'analyser-stopped'));
if (stopped) {
  console.error('analyse-templates: an analyser was stopped at its limits (a loaded machine?); nothing written, run it again');
  process.exit(1);
}
if (analysis.unavailable.length > 0) {
  console.error(`analyse-templates: ${analysis.unavailable.join(' and ')} not installed; nothing written (the analysis must be the analysers')`);
  process.exit(1);
}
writeFileSync(TEMPLATE_ANALYSIS_FILE, `${JSON.stringify(analysis, null, 2)}\n`);
const findings = analysis.renderings.reduce((sum, { findings: own }) => sum + own.length, 0);
const seconds = ((performance.now() - started) / 1000).toFixed(1);
console.log(
  `wrote ${TEMPLATE_ANALYSIS_FILE}: template ${analysis.templateHash.slice(0, 12)}, ${analysis.renderings.length} renderings, ${findings} findings, ${seconds} s`,
);
