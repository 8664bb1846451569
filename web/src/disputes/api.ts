// The disputes (矛盾纠纷) endpoints (docs/architecture.md rule 17).
import { api, unwrap } from '@/api/client'
import type { Ok } from '@/api/types'

export type DisputePage = Ok<'/api/v1/disputes', 'get'>
export type DisputeRow = DisputePage['items'][number]
export type DisputeDetail = Ok<'/api/v1/disputes/{dispute_id}', 'get'>

export const STATUSES = ['registered', 'routed', 'mediating', 'settled', 'failed', 'refused'] as const

export function fetchDisputes(query: { status?: string | null; limit: number; offset: number }): Promise<DisputePage> {
  return unwrap(
    api.GET('/api/v1/disputes', {
      params: { query: { status: query.status || null, limit: query.limit, offset: query.offset } },
    }),
  )
}

export function fetchDispute(id: string): Promise<DisputeDetail> {
  return unwrap(api.GET('/api/v1/disputes/{dispute_id}', { params: { path: { dispute_id: id } } }))
}
