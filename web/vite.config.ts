import { fileURLToPath, URL } from 'node:url'

import vue from '@vitejs/plugin-vue'
import { defineConfig } from 'vite'

import { offlineAssets } from './scripts/offline-assets'

// The FastAPI app serves the built console from the package's static folder (main.py `_mount_web`).
const outDir = fileURLToPath(new URL('../src/civicgrid/static', import.meta.url))
// `npm run dev` proxies the API to a locally running `civicgrid serve`.
const backend = process.env.CIVICGRID_BACKEND ?? 'http://127.0.0.1:8000'

export default defineConfig({
  plugins: [vue(), offlineAssets(outDir)],
  resolve: {
    alias: { '@': fileURLToPath(new URL('./src', import.meta.url)) },
  },
  define: {
    // vue-i18n feature flags: Composition API only, no legacy API, no devtools in production.
    __VUE_I18N_FULL_INSTALL__: false,
    __VUE_I18N_LEGACY_API__: false,
    __INTLIFY_PROD_DEVTOOLS__: false,
  },
  build: {
    outDir,
    emptyOutDir: true,
    chunkSizeWarningLimit: 1200,
  },
  server: {
    proxy: {
      '/api': { target: backend, ws: true },
    },
  },
})
