// The disputes (矛盾纠纷) endpoints (docs/architecture.md rule 17).
import { api, unwrap } from '@/api/client'
import type { paths } from '@/api/schema'
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

export type Category = Ok<'/api/v1/dispute-categories', 'get'>[number]
export type HandlerChoice = Ok<'/api/v1/disputes/{dispute_id}/handler-choices', 'get'>[number]
export type Workbench = Ok<'/api/v1/dispute-workbench', 'get'>
export type HeatCell = Ok<'/api/v1/dispute-warnings/heat', 'get'>[number]
export type ScreeningPage = Ok<'/api/v1/dispute-screening-reports', 'get'>
export type ScreeningRow = ScreeningPage['items'][number]
export type DisputeCreate = paths['/api/v1/disputes']['post']['requestBody']['content']['application/json']
export type PartyIn = NonNullable<DisputeCreate['parties']>[number]
export type AgreementIn = paths['/api/v1/disputes/{dispute_id}/agreement']['post']['requestBody']['content']['application/json']

export const CATEGORIES_SOURCES = ['screening', 'walk_in', 'hotline_12345', 'police', 'court', 'petition', 'matter'] as const
export const ROUTES_LEFT = ['arbitration', 'administrative', 'litigation'] as const

const path = (id: string) => ({ params: { path: { dispute_id: id } } })

export function fetchCategories(): Promise<Category[]> {
  return unwrap(api.GET('/api/v1/dispute-categories'))
}

export function registerDispute(body: DisputeCreate): Promise<DisputeDetail> {
  return unwrap(api.POST('/api/v1/disputes', { body }))
}

export function fetchHandlerChoices(id: string): Promise<HandlerChoice[]> {
  return unwrap(api.GET('/api/v1/disputes/{dispute_id}/handler-choices', path(id)))
}

export function actOn(id: string, action: string, note: string | null, extra: Record<string, unknown> = {}): Promise<DisputeDetail> {
  return unwrap(
    api.POST('/api/v1/disputes/{dispute_id}/transitions', { ...path(id), body: { action, note, ...extra } }),
  )
}

export function recordSession(id: string, body: { participants: string; notes: string; result: 'progress' | 'agreed' | 'failed' }) {
  return unwrap(api.POST('/api/v1/disputes/{dispute_id}/sessions', { ...path(id), body }))
}

export function draftAgreement(id: string, body: AgreementIn) {
  return unwrap(api.POST('/api/v1/disputes/{dispute_id}/agreement', { ...path(id), body }))
}

export function sign(id: string, signer: { party_id?: string; mediator?: boolean }) {
  const body = { party_id: signer.party_id ?? null, mediator: signer.mediator ?? false }
  return unwrap(api.POST('/api/v1/disputes/{dispute_id}/agreement/signatures', { ...path(id), body }))
}

export function seal(id: string) {
  return unwrap(api.POST('/api/v1/disputes/{dispute_id}/agreement/seal', path(id)))
}

export function fetchWorkbench(): Promise<Workbench> {
  return unwrap(api.GET('/api/v1/dispute-workbench'))
}

export function fetchHeat(): Promise<HeatCell[]> {
  return unwrap(api.GET('/api/v1/dispute-warnings/heat'))
}

export function fetchScreening(limit = 50): Promise<ScreeningPage> {
  return unwrap(api.GET('/api/v1/dispute-screening-reports', { params: { query: { limit } } }))
}

export function fileScreening(body: { division_code: string; period_start: string; found: number; note: string }) {
  return unwrap(api.POST('/api/v1/dispute-screening-reports', { body }))
}

export function returnVisit(id: string, body: { performed: 'performed' | 'partly' | 'not_performed'; note: string }) {
  return unwrap(api.POST('/api/v1/disputes/{dispute_id}/agreement/return-visits', { ...path(id), body }))
}

export async function attach(id: string, sessionId: string, file: File, kind: string) {
  const form = new FormData()
  form.append('file', file)
  form.append('session_id', sessionId)
  form.append('kind', kind)
  return unwrap(
    api.POST('/api/v1/disputes/{dispute_id}/attachments', {
      ...path(id),
      body: { file: '', session_id: sessionId, kind },
      bodySerializer: () => form,
    }),
  )
}

export type DisputeFigures = Ok<'/api/v1/dispute-figures', 'get'>
export type FiguresQuery = { division_code: string; start: string; end: string }

export function fetchFigures(query: FiguresQuery): Promise<DisputeFigures> {
  return unwrap(api.GET('/api/v1/dispute-figures', { params: { query } }))
}

export async function downloadFigures(query: FiguresQuery): Promise<Blob> {
  const blob: unknown = await unwrap(api.GET('/api/v1/dispute-figures/export', { params: { query }, parseAs: 'blob' }))
  return blob as Blob
}
