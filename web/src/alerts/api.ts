// The warnings (预警) endpoints (docs/architecture.md rule 15).
import { api, unwrap } from '@/api/client'
import type { Ok } from '@/api/types'

export type AlertPage = Ok<'/api/v1/alerts', 'get'>
export type AlertRow = AlertPage['items'][number]
export type AlertDetail = Ok<'/api/v1/alerts/{alert_id}', 'get'>
export type AlertFigures = Ok<'/api/v1/alerts/figures', 'get'>
export type WithdrawReason = Ok<'/api/v1/alerts/withdraw-reasons', 'get'>[number]
export type AlertAction = 'acknowledge' | 'handle' | 'escalate' | 'withdraw'

export const LEVELS = ['red', 'orange', 'yellow', 'blue'] as const
export const STATUSES = ['raised', 'escalated', 'acknowledged', 'handled', 'withdrawn'] as const

export function fetchAlerts(query: {
  status?: string | null
  level?: string | null
  source_type?: string | null
  source_id?: string | null
  limit: number
  offset: number
}): Promise<AlertPage> {
  return unwrap(
    api.GET('/api/v1/alerts', {
      params: {
        query: {
          status: query.status || null,
          level: query.level || null,
          source_type: query.source_type || null,
          source_id: query.source_id || null,
          limit: query.limit,
          offset: query.offset,
        },
      },
    }),
  )
}

export function fetchAlert(id: string): Promise<AlertDetail> {
  return unwrap(api.GET('/api/v1/alerts/{alert_id}', { params: { path: { alert_id: id } } }))
}

export function fetchFigures(): Promise<AlertFigures> {
  return unwrap(api.GET('/api/v1/alerts/figures'))
}

export function fetchWithdrawReasons(): Promise<WithdrawReason[]> {
  return unwrap(api.GET('/api/v1/alerts/withdraw-reasons'))
}

export function act(id: string, action: AlertAction, note: string | null, reason: string | null): Promise<AlertDetail> {
  return unwrap(
    api.POST('/api/v1/alerts/{alert_id}/actions/{action}', {
      params: { path: { alert_id: id, action } },
      body: { note, reason },
    }),
  )
}
