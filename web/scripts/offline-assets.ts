// A Vite plugin for a console served on an offline government network:
// - copies Swagger UI's assets (npm swagger-ui-dist) into docs/ of the build, with an initialiser
//   file instead of the inline script a CDN page uses (the Content-Security-Policy allows no inline
//   script), so /api/docs works with no Internet;
// - writes a gzip and a brotli copy beside every text asset, which the server sends to browsers
//   that accept them (main.py `_mount_web`): no compression work per request.
import { copyFileSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { brotliCompressSync, constants, gzipSync } from 'node:zlib'
import type { Plugin } from 'vite'

const require = createRequire(import.meta.url)
const COMPRESSIBLE = /\.(js|css|html|svg|json|map|txt)$/
const MIN_BYTES = 1024

const INIT = `// Swagger UI for civicgrid's OpenAPI (served from the package; no CDN).
window.addEventListener('load', () => {
  window.ui = SwaggerUIBundle({
    url: '/api/openapi.json',
    dom_id: '#swagger-ui',
    deepLinking: true,
    presets: [SwaggerUIBundle.presets.apis],
    layout: 'BaseLayout',
  })
})
`

function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name)
    return statSync(path).isDirectory() ? walk(path) : [path]
  })
}

export function offlineAssets(outDir: string): Plugin {
  return {
    name: 'civicgrid-offline-assets',
    apply: 'build',
    closeBundle() {
      const dist = dirname(require.resolve('swagger-ui-dist/package.json'))
      const docs = join(outDir, 'docs')
      mkdirSync(docs, { recursive: true })
      for (const name of ['swagger-ui-bundle.js', 'swagger-ui.css', 'LICENSE', 'NOTICE']) {
        copyFileSync(join(dist, name), join(docs, name))
      }
      writeFileSync(join(docs, 'init.js'), INIT)
      for (const file of walk(outDir)) {
        if (!COMPRESSIBLE.test(file) || statSync(file).size < MIN_BYTES) continue
        const raw = readFileSync(file)
        writeFileSync(`${file}.gz`, gzipSync(raw, { level: 9 }))
        writeFileSync(
          `${file}.br`,
          brotliCompressSync(raw, { params: { [constants.BROTLI_PARAM_QUALITY]: 11, [constants.BROTLI_PARAM_SIZE_HINT]: raw.length } }),
        )
      }
    },
  }
}
