// es-hangul's convertQwertyToHangul on each input of a JSON array of strings; prints a JSON
// array with, for each input, its output, or {"error": message} where es-hangul throws.
// Usage: node qwerty.mjs ES_HANGUL_PREFIX INPUTS.json
// es-hangul is installed under ES_HANGUL_PREFIX (npm install --prefix), outside the repository,
// so it is imported by path: the ESM entry (exports["."].import) of the pinned version.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const [prefix, inputsFile] = process.argv.slice(2);
const entry = join(prefix, 'node_modules', 'es-hangul', 'dist', 'index.mjs');
const { convertQwertyToHangul } = await import(pathToFileURL(entry).href);

const inputs = JSON.parse(readFileSync(inputsFile, 'utf8'));
const outputs = inputs.map((input) => {
  try {
    return convertQwertyToHangul(input);
  } catch (err) {
    return { error: String(err?.message ?? err) };
  }
});
process.stdout.write(JSON.stringify(outputs));
