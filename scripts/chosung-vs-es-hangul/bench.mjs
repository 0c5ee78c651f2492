// es-hangul's getChoseong on a text file, measured like quiz-core's chosung_throughput example.
// Usage: node bench.mjs FILE [SECONDS]   or   node bench.mjs --print FILE
import { readFileSync } from 'node:fs';
import { getChoseong } from 'es-hangul';

const args = process.argv.slice(2);
if (args[0] === '--print') {
  process.stdout.write(getChoseong(readFileSync(args[1], 'utf8')));
  process.exit(0);
}
const [file, secondsArg] = args;
const text = readFileSync(file, 'utf8');
const bytes = Buffer.byteLength(text, 'utf8');
const budgetMs = Number(secondsArg ?? 3) * 1000;
let sink = 0;
for (let i = 0; i < 100; i++) sink += getChoseong(text).length;
const started = performance.now();
let passes = 0;
while (performance.now() - started < budgetMs) {
  sink += getChoseong(text).length;
  passes++;
}
const seconds = (performance.now() - started) / 1000;
const mbPerS = (bytes * passes) / seconds / 1e6;
console.log(JSON.stringify({ impl: 'es-hangul', bytes, passes, seconds: +seconds.toFixed(3), mb_per_s: +mbPerS.toFixed(1), sink: sink > 0 }));
