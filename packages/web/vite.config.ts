import { readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import react from '@vitejs/plugin-react';
import { defaultClientConditions, defineConfig, type Plugin } from 'vite';
import { precacheList, swPrefix } from './build/precache.js';

const here = path.dirname(fileURLToPath(import.meta.url));

/**
 * Builds src/sw/service-worker.ts as /meet/service-worker.js (a classic script, no imports) and
 * writes into it the list of files to precache and a build id, so each deployment gets a new
 * worker and browsers notice the update.
 */
function serviceWorker(): Plugin {
  const publicFiles = (dir: string, prefix = ''): string[] =>
    readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
      e.isDirectory()
        ? publicFiles(path.join(dir, e.name), `${prefix}${e.name}/`)
        : [`${prefix}${e.name}`],
    );
  return {
    name: 'confab-service-worker',
    apply: 'build',
    enforce: 'post',
    buildStart() {
      this.emitFile({
        type: 'chunk',
        id: path.join(here, 'src/sw/service-worker.ts'),
        fileName: 'service-worker.js',
      });
    },
    generateBundle(_options, bundle) {
      const sw = bundle['service-worker.js'];
      if (sw?.type !== 'chunk') throw new Error('service worker chunk missing');
      if (sw.imports.length > 0)
        throw new Error(`the service worker must not import chunks: ${sw.imports.join(', ')}`);
      const { files, buildId } = precacheList([
        ...Object.keys(bundle),
        ...publicFiles(path.join(here, 'public')),
      ]);
      sw.code = swPrefix(files, buildId) + sw.code;
    },
  };
}

export default defineConfig({
  base: '/meet/',
  plugins: [react(), serviceWorker()],
  resolve: { conditions: ['source', ...defaultClientConditions] },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    sourcemap: true,
    target: 'es2022',
  },
  server: {
    proxy: {
      '/api': 'http://localhost:8080',
      '/signin': 'http://localhost:8080',
      '/.well-known': 'http://localhost:8080',
    },
  },
});
