// es-hangul's getChoseong on a file, measured like quiz-core's chosung_throughput example.
// Usage: node bench.mjs [--lines] FILE [SECONDS]   or   node bench.mjs --print [--lines] FILE
// With --lines each line of FILE is one text, one call per line; without, the whole file is.
import { readFileSync } from 'node:fs';
import { getChoseong } from 'es-hangul';

const args = process.argv.slice(2);
const print = args[0] === '--print';
if (print) args.shift();
const lines = args[0] === '--lines';
if (lines) args.shift();
const [file, secondsArg] = args;
const text = readFileSync(file, 'utf8');
const texts = lines ? text.split('\n') : [text];

if (print) {
  process.stdout.write(texts.map((t) => getChoseong(t)).join('\n'));
  process.exit(0);
}

const bytes = texts.reduce((sum, t) => sum + Buffer.byteLength(t, 'utf8'), 0);
let sink = 0;
const pass = () => {
  for (const t of texts) sink += getChoseong(t).length;
};
// Warm up (the JIT too) for 1 s, then count whole passes until the budget is spent.
for (const started = performance.now(); performance.now() - started < 1000; ) pass();
const budgetMs = Number(secondsArg ?? 3) * 1000;
const started = performance.now();
let passes = 0;
while (performance.now() - started < budgetMs) {
  pass();
  passes++;
}
const seconds = (performance.now() - started) / 1000;
const mbPerS = (bytes * passes) / seconds / 1e6;
console.log(JSON.stringify({
  impl: 'es-hangul',
  corpus: lines ? 'lines' : 'text',
  bytes,
  calls: texts.length,
  passes,
  seconds: +seconds.toFixed(3),
  mb_per_s: +mbPerS.toFixed(1),
  sink: sink > 0,
}));
