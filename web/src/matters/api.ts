// The matters endpoints the console reads and writes (docs/api/matters.md): queues, a matter
// with its timeline, transitions, photos, intake, the catalogue and the figures.
import { api, ApiError, unwrap } from '@/api/client'
import type { Ok } from '@/api/types'
import type { paths } from '@/api/schema'

export type MatterPage = Ok<'/api/v1/matters', 'get'>
export type MatterRow = MatterPage['items'][number]
/** A matter as the API answers it: in full, or its public view for a reporter outside the jurisdiction. */
export type MatterAnswer = Ok<'/api/v1/matters/{matter_id}', 'get'>
export type MatterDetail = Exclude<MatterAnswer, { view: 'public' }>
export type MatterPublic = Extract<MatterAnswer, { view: 'public' }>
export type TimelineEntry = MatterDetail['timeline'][number]
export type Photo = MatterDetail['photos'][number]
export type MatterType = Ok<'/api/v1/matter-types', 'get'>[number]
export type CatalogueVersion = Ok<'/api/v1/catalogue/versions', 'get'>[number]
export type GridLocation = Ok<'/api/v1/grids/locate', 'get'>
type FiguresAnswer = Ok<'/api/v1/figures/matters', 'get'>
export type FiguresByChildren = Extract<FiguresAnswer, { children: unknown }>
export type Figures = FiguresByChildren['division']
export type MatterCreate = paths['/api/v1/matters']['post']['requestBody']['content']['application/json']
export type MatterTypeIn = paths['/api/v1/matter-types/{code}']['put']['requestBody']['content']['application/json']

export type Queue = 'mine' | 'division' | 'reported_by_me'
export const LEVELS = ['village', 'township', 'county', 'city'] as const
export const STATUSES = [
  'reported',
  'escalated',
  'returned',
  'accepted',
  'dispatched',
  'handling',
  'handled',
  'verified',
  'closed',
  'evaluated',
  'rejected',
  'cancelled',
  'merged',
] as const

/** An API error with the extra fields of its body (`allowed_actions`, `row`, `column`, `field`…). */
export class DetailedApiError extends ApiError {
  readonly details: Record<string, unknown>

  constructor(status: number, code: string, message: string, details: Record<string, unknown>) {
    super(status, code, message)
    this.details = details
  }
}

interface RawResult<T> {
  data?: T
  error?: unknown
  response: Response
}

// Like unwrap(), but keeps the error body's other fields: the 409 of a transition lists the
// allowed actions, a refused workbook names its row and column.
async function call<T>(request: Promise<RawResult<T>>): Promise<NonNullable<T>> {
  let result: RawResult<T>
  try {
    result = await request
  } catch (err) {
    throw new ApiError(0, 'network', err instanceof Error ? err.message : String(err))
  }
  const { data, error, response } = result
  if (response.ok && error === undefined) {
    return data as NonNullable<T>
  }
  const inner =
    typeof error === 'object' && error !== null && 'error' in error ? (error as { error: unknown }).error : null
  if (typeof inner === 'object' && inner !== null) {
    const { code, message, ...details } = inner as Record<string, unknown>
    if (typeof message === 'string') {
      throw new DetailedApiError(response.status, typeof code === 'string' ? code : 'error', message, details)
    }
  }
  throw new DetailedApiError(response.status, `http_${response.status}`, response.statusText || `HTTP ${response.status}`, {})
}

// ---------------------------------------------------------------- queues and matters

export interface QueueQuery {
  queue: Queue
  status?: string | null
  overdue?: boolean | null
  q?: string | null
  unit?: string | null
  place?: string | null
  type_code?: string | null
  category?: string | null
  channel?: string | null
  reported_from?: string | null
  reported_to?: string | null
  flag?: string[] | null
  offset?: number
  limit?: number
}

export function fetchQueue(query: QueueQuery): Promise<MatterPage> {
  return unwrap(api.GET('/api/v1/matters', { params: { query } }))
}

/** The queue as an Excel workbook, exactly what its filters show (Chinese headers). */
export async function downloadQueue(query: QueueQuery): Promise<Blob> {
  const { offset: _offset, limit: _limit, ...filters } = query
  const blob: unknown = await unwrap(api.GET('/api/v1/matters.xlsx', { params: { query: filters }, parseAs: 'blob' }))
  return blob as Blob
}

/** The caller's own reports with their current state (any reporter, volunteers included). */
export function fetchMyReports(limit = 20): Promise<MatterPage> {
  return unwrap(api.GET('/api/v1/my-reports', { params: { query: { limit } } }))
}

export function fetchMatter(id: string): Promise<MatterAnswer> {
  return unwrap(api.GET('/api/v1/matters/{matter_id}', { params: { path: { matter_id: id } } }))
}

/** The body of a transition: the action, its note, and the action's own fields. */
export interface TransitionBody {
  action: string
  note?: string | null
  lng?: number | null
  lat?: number | null
  result?: string
  satisfaction?: number
  days?: number
  level?: string
  duplicate_of?: string
  candidate_id?: string
}

/** Perform an action; a 409 is thrown as DetailedApiError with `details.allowed_actions`. */
export function transition(id: string, body: TransitionBody): Promise<MatterDetail> {
  return call(
    api.POST('/api/v1/matters/{matter_id}/transitions', {
      params: { path: { matter_id: id } },
      body: body as paths['/api/v1/matters/{matter_id}/transitions']['post']['requestBody']['content']['application/json'],
    }),
  )
}

/**
 * Report a matter. `idempotencyKey` must stay the same for every retry of one submission: the
 * server then answers with the matter the first attempt created instead of a second one.
 */
export function reportMatter(body: MatterCreate, idempotencyKey: string): Promise<MatterAnswer> {
  return call(
    api.POST('/api/v1/matters', { params: { header: { 'Idempotency-Key': idempotencyKey } }, body }),
  ) as Promise<MatterAnswer>
}

/** 满意度 for a closed matter, from the person who reported it (409 for anyone else). */
export function rateMyReport(id: string, satisfaction: number): Promise<unknown> {
  return call(
    api.POST('/api/v1/my-reports/{matter_id}/satisfaction', {
      params: { path: { matter_id: id } },
      body: { satisfaction },
    }),
  )
}

/** 撤回: the reporter takes a report back within 10 minutes of reporting (409 after). */
export function withdrawMyReport(id: string): Promise<unknown> {
  return call(api.POST('/api/v1/my-reports/{matter_id}/withdraw', { params: { path: { matter_id: id } }, body: {} }))
}

/** Upload a photo (JPEG, PNG, WebP) at the report or result stage. */
export function uploadPhoto(id: string, file: Blob, stage: 'report' | 'result' | 'verify'): Promise<unknown> {
  const form = new FormData()
  form.append('file', file, file instanceof File ? file.name : 'photo.jpg')
  form.append('stage', stage)
  return call(
    api.POST('/api/v1/matters/{matter_id}/photos', {
      params: { path: { matter_id: id } },
      body: { file: '', stage },
      bodySerializer: () => form,
    }),
  )
}

export function locateGrid(lng: number, lat: number): Promise<GridLocation> {
  return unwrap(api.GET('/api/v1/grids/locate', { params: { query: { lng, lat } } }))
}

// ---------------------------------------------------------------- catalogue

export function fetchTypes(includeInactive = false): Promise<MatterType[]> {
  return unwrap(api.GET('/api/v1/matter-types', { params: { query: { include_inactive: includeInactive } } }))
}

export function fetchVersions(): Promise<CatalogueVersion[]> {
  return unwrap(api.GET('/api/v1/catalogue/versions'))
}

export function saveType(code: string, body: MatterTypeIn): Promise<MatterType> {
  return call(api.PUT('/api/v1/matter-types/{code}', { params: { path: { code } }, body }))
}

export async function downloadCatalogue(version?: number): Promise<Blob> {
  const blob: unknown = await unwrap(
    api.GET('/api/v1/catalogue.xlsx', { params: { query: version ? { version } : {} }, parseAs: 'blob' }),
  )
  return blob as Blob
}

/** Replace the catalogue from a workbook; a bad cell → DetailedApiError naming row and column. */
export function uploadCatalogue(file: File): Promise<CatalogueVersion> {
  const form = new FormData()
  form.append('file', file, file.name)
  return call(api.POST('/api/v1/catalogue.xlsx', { body: { file: '' }, bodySerializer: () => form }))
}

// ---------------------------------------------------------------- personal data

export type RevealField = 'reporter_name' | 'reporter_phone'
export type Revealed = Ok<'/api/v1/matters/{matter_id}/reveal', 'post'>

/** One field of the reporter in clear, for a stated purpose (recorded in the audit chain). */
export function revealField(id: string, field: RevealField, purpose: string): Promise<Revealed> {
  return call(api.POST('/api/v1/matters/{matter_id}/reveal', { params: { path: { matter_id: id } }, body: { field, purpose } }))
}

/** The report sheet (事项登记表) as a printable HTML page: a reveal, recorded with its purpose. */
export async function printReportSheet(id: string, purpose: string): Promise<string> {
  const page: unknown = await call(
    api.POST('/api/v1/matters/{matter_id}/print', {
      params: { path: { matter_id: id } },
      body: { purpose },
      parseAs: 'text',
    }),
  )
  return page as string
}

// ---------------------------------------------------------------- figures

export interface FiguresQuery {
  division: string
  from?: string | null
  to?: string | null
}

export async function fetchFiguresByChildren(query: FiguresQuery): Promise<FiguresByChildren> {
  const answer = await unwrap(api.GET('/api/v1/figures/matters', { params: { query: { ...query, by: 'children' } } }))
  return answer as FiguresByChildren
}

export async function downloadFigures(query: FiguresQuery): Promise<Blob> {
  const blob: unknown = await unwrap(
    api.GET('/api/v1/figures/matters.xlsx', { params: { query: { ...query, by: 'children' } }, parseAs: 'blob' }),
  )
  return blob as Blob
}

/** Hand a downloaded file to the browser under a name. */
export function saveBlob(blob: Blob, filename: string): void {
  const url = URL.createObjectURL(blob)
  const link = document.createElement('a')
  link.href = url
  link.download = filename
  document.body.appendChild(link)
  link.click()
  link.remove()
  setTimeout(() => URL.revokeObjectURL(url), 10_000)
}

// ---------------------------------------------------------------- 12345 desk

export type CallerHistory = Ok<'/api/v1/hotline/caller-history', 'post'>

/** The caller's earlier matters (keyed-hash match on the phone; masked; the look-up is audited). */
export function callerHistory(phone: string): Promise<CallerHistory> {
  return unwrap(api.POST('/api/v1/hotline/caller-history', { body: { phone, purpose: '12345 来电核实 / checking a 12345 call' } }))
}

export type FiguresTrend = Ok<'/api/v1/figures/matters/trend', 'get'>
export type FiguresBreakdown = Ok<'/api/v1/figures/matters/breakdown', 'get'>

export function fetchTrend(query: FiguresQuery & { step: 'week' | 'month' }): Promise<FiguresTrend> {
  return unwrap(api.GET('/api/v1/figures/matters/trend', { params: { query } }))
}

export function fetchBreakdown(query: FiguresQuery): Promise<FiguresBreakdown> {
  return unwrap(api.GET('/api/v1/figures/matters/breakdown', { params: { query } }))
}

// ---------------------------------------------------------------- the resident's rating link (Open311)

export type ResidentReport = Ok<'/api/v1/resident-ratings/{rating_key}', 'get'>

/** The report behind a resident's link (the key is the credential; no session). */
export function fetchResidentReport(key: string): Promise<ResidentReport> {
  return unwrap(api.GET('/api/v1/resident-ratings/{rating_key}', { params: { path: { rating_key: key } } }))
}

/** 满意度 from the resident who reported through Open311: once, on a closed matter. */
export function rateResidentReport(key: string, satisfaction: number, note: string | null): Promise<ResidentReport> {
  return unwrap(
    api.POST('/api/v1/resident-ratings/{rating_key}', {
      params: { path: { rating_key: key } },
      body: { satisfaction, note },
    }),
  )
}

export type PlaceCorrected = Ok<'/api/v1/matters/{matter_id}/place', 'post'>

/** 更正位置: the right point, the address as it should read, and why; the matter is re-routed. */
export function correctPlace(
  id: string,
  body: { lng: number; lat: number; address: string | null; reason: string },
): Promise<PlaceCorrected> {
  return call(api.POST('/api/v1/matters/{matter_id}/place', { params: { path: { matter_id: id } }, body }))
}

export type HotlineExtension = Ok<'/api/v1/hotline/extension-requests', 'get'>[number]

/** 延期申请 on 12345 matters in the caller's view (the 12345 desk tells the caller). */
export function fetchHotlineExtensions(): Promise<HotlineExtension[]> {
  return call(api.GET('/api/v1/hotline/extension-requests', {}))
}
