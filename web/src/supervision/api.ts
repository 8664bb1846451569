// The enforcement supervision endpoints (docs/api/supervision.md).
import { api, unwrap } from '@/api/client'
import type { Ok } from '@/api/types'

export type Board = Ok<'/api/v1/supervision/board', 'get'>
export type ClockRow = Board['live'][number]

export function fetchBoard(): Promise<Board> {
  return unwrap(api.GET('/api/v1/supervision/board'))
}
