// Fails when the console's JavaScript is over budget: 150 KB gzip for the first load.
// The first load is every script index.html loads or preloads and, conservatively, every other
// .js file in dist/assets too (so a lazily loaded chunk can't slip past the check).
import { readFileSync, readdirSync, existsSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

const LIMIT = 150 * 1024;
const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dist = join(root, 'dist');
if (!existsSync(join(dist, 'index.html'))) {
  console.error('check-size: dist/index.html is missing; run `npm run build` first.');
  process.exit(1);
}

const html = readFileSync(join(dist, 'index.html'), 'utf8');
const referenced = new Set(
  [...html.matchAll(/(?:src|href)="\/console\/(assets\/[^"]+\.js)"/g)].map((m) => m[1]),
);
const assets = readdirSync(join(dist, 'assets')).filter((f) => f.endsWith('.js'));

let total = 0;
const rows = [];
for (const file of assets) {
  const bytes = readFileSync(join(dist, 'assets', file));
  const gz = gzipSync(bytes, { level: 9 }).length;
  total += gz;
  rows.push({ file: `assets/${file}`, raw: bytes.length, gzip: gz, entry: referenced.has(`assets/${file}`) });
}
const css = readdirSync(join(dist, 'assets')).filter((f) => f.endsWith('.css'));
for (const file of css) {
  const bytes = readFileSync(join(dist, 'assets', file));
  rows.push({ file: `assets/${file}`, raw: bytes.length, gzip: gzipSync(bytes, { level: 9 }).length, entry: false, css: true });
}

const kb = (n) => `${(n / 1024).toFixed(1)} KB`;
for (const row of rows) {
  console.log(`${row.file.padEnd(40)} ${kb(row.raw).padStart(10)} raw ${kb(row.gzip).padStart(9)} gzip${row.css ? ' (css)' : row.entry ? ' (entry)' : ''}`);
}
if (referenced.size === 0) {
  console.error('check-size: index.html references no script under /console/assets/.');
  process.exit(1);
}
console.log(`JavaScript, gzip: ${kb(total)} (${total} bytes) of a ${kb(LIMIT)} budget`);
if (total > LIMIT) {
  console.error(`check-size: over budget by ${kb(total - LIMIT)}`);
  process.exit(1);
}
