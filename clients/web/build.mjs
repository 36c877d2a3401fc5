/** Builds clients/web/dist: index.html, content-hashed JS/CSS under assets/, .gz siblings, sw.js. */
import { build } from 'esbuild';
import { mkdir, readFile, readdir, rm, writeFile, stat } from 'node:fs/promises';
import { gzipSync, constants } from 'node:zlib';
import { join, dirname, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = dirname(fileURLToPath(import.meta.url));
const dist = join(root, 'dist');
const BASE = '/app/';

await rm(dist, { recursive: true, force: true });
await mkdir(dist, { recursive: true });

const result = await build({
  entryPoints: { app: join(root, 'src/main.js'), style: join(root, 'src/style.css') },
  bundle: true,
  splitting: true,
  format: 'esm',
  minify: true,
  sourcemap: false,
  target: ['es2022'],
  outdir: join(dist, 'assets'),
  entryNames: '[name]-[hash]',
  chunkNames: 'chunk-[hash]',
  assetNames: '[name]-[hash]',
  publicPath: `${BASE}assets`,
  metafile: true,
  legalComments: 'none',
  logLevel: 'warning',
  define: { 'process.env.NODE_ENV': '"production"' },
});

/** @param {string} entry */
function output(entry) {
  for (const [file, meta] of Object.entries(result.metafile.outputs)) {
    if (meta.entryPoint && meta.entryPoint.endsWith(entry)) return relative(dist, join(root, file));
  }
  throw new Error(`no output for ${entry}`);
}

const script = output('src/main.js');
const style = output('src/style.css');
const template = await readFile(join(root, 'src/index.html'), 'utf8');
const html = template.replaceAll('%SCRIPT%', `${BASE}${script}`).replaceAll('%STYLE%', `${BASE}${style}`);
await writeFile(join(dist, 'index.html'), html);
await writeFile(join(dist, 'sw.js'), await readFile(join(root, 'src/sw.js'), 'utf8'));

/** @param {string} dir @returns {AsyncGenerator<string>} */
async function* files(dir) {
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) yield* files(path);
    else yield path;
  }
}

let total = 0;
for await (const path of files(dist)) {
  if (!/\.(js|css|html|json|svg|wasm|txt)$/.test(path)) continue;
  const packed = gzipSync(await readFile(path), { level: constants.Z_BEST_COMPRESSION });
  await writeFile(`${path}.gz`, packed);
  total += packed.length;
}
const info = await stat(join(dist, 'index.html'));
console.log(
  `haven-web: built ${script}, ${style}; ${(total / 1024).toFixed(1)} KiB gzipped in all (index.html ${info.size} B)`,
);
