import { defineConfig } from 'vite';

// Node's `process`, without pulling in @types/node for one line.
declare const process: { env: Record<string, string | undefined> };

// Served by the API at http://127.0.0.1:8000/console/ from dist/ (same origin as the API).
export default defineConfig({
  base: '/console/',
  oxc: {
    jsx: { runtime: 'automatic', importSource: 'preact' },
  },
  // `npm run dev`: the console at http://127.0.0.1:5173/console/, the API proxied from
  // API_ORIGIN (default http://127.0.0.1:8000), so it is same-origin as in production.
  server: {
    host: '127.0.0.1',
    proxy: { '/v2': { target: process.env.API_ORIGIN ?? 'http://127.0.0.1:8000', changeOrigin: false } },
  },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    sourcemap: false,
    // Never inline assets as data: URIs (the CSP allows data: only for images) and never
    // inject the module-preload polyfill: the page runs under `script-src 'self'`.
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
  },
});
