// The file store (docs/api/files.md): a stored file's bytes — a photo, a voice message, an
// agreement — fetched with the bearer token, since an <img src> or <audio src> cannot send it.
import { api, unwrap } from '@/api/client'

/** The verified bytes of a stored file (404 outside the caller's access; `file_corrupted` when damaged). */
export async function fetchFileBlob(fileId: string): Promise<Blob> {
  const blob: unknown = await unwrap(
    api.GET('/api/v1/files/{file_id}', {
      params: { path: { file_id: fileId } },
      parseAs: 'blob',
    }),
  )
  return blob as Blob
}
