// The enforcement supervision endpoints (docs/api/supervision.md).
import { api, unwrap } from '@/api/client'
import type { Ok } from '@/api/types'

export type Board = Ok<'/api/v1/supervision/board', 'get'>
export type ClockRow = Board['live'][number]

export function fetchBoard(): Promise<Board> {
  return unwrap(api.GET('/api/v1/supervision/board'))
}

export type CasePage = Ok<'/api/v1/supervision/cases', 'get'>
export type CaseRow = CasePage['items'][number]
export type CaseFile = Ok<'/api/v1/supervision/cases/{case_id}', 'get'>
export type TimelineRow = CaseFile['timeline'][number]
export type Area = Ok<'/api/v1/supervision/areas', 'get'>[number]
export type RoomBoard = Ok<'/api/v1/supervision/areas/{area_id}/board', 'get'>
export type Occupant = RoomBoard['occupants'][number]
export type LedgerPage = Ok<'/api/v1/supervision/property', 'get'>
export type LedgerRow = LedgerPage['items'][number]
export type PropertyDetail = Ok<'/api/v1/supervision/property/{property_id}', 'get'>
export type Rule = Ok<'/api/v1/supervision/rules', 'get'>[number]
export type BreachMap = Ok<'/api/v1/supervision/breach-map', 'get'>
export type Figures = Ok<'/api/v1/supervision/figures', 'get'>

export function fetchCases(query: { offset?: number; limit?: number; kind?: 'criminal' | 'administrative' }): Promise<CasePage> {
  return unwrap(api.GET('/api/v1/supervision/cases', { params: { query } }))
}

export function fetchCase(caseId: string): Promise<CaseFile> {
  return unwrap(api.GET('/api/v1/supervision/cases/{case_id}', { params: { path: { case_id: caseId } } }))
}

export function fetchAreas(): Promise<Area[]> {
  return unwrap(api.GET('/api/v1/supervision/areas'))
}

export function fetchRoomBoard(areaId: string): Promise<RoomBoard> {
  return unwrap(api.GET('/api/v1/supervision/areas/{area_id}/board', { params: { path: { area_id: areaId } } }))
}

export function fetchLedger(query: {
  offset?: number
  limit?: number
  status?: 'held' | 'returned' | 'confiscated' | 'auctioned' | 'destroyed'
}): Promise<LedgerPage> {
  return unwrap(api.GET('/api/v1/supervision/property', { params: { query } }))
}

export function fetchProperty(propertyId: string): Promise<PropertyDetail> {
  return unwrap(api.GET('/api/v1/supervision/property/{property_id}', { params: { path: { property_id: propertyId } } }))
}

export function fetchRules(): Promise<Rule[]> {
  return unwrap(api.GET('/api/v1/supervision/rules'))
}

export function fetchBreachMap(divisionCode: string): Promise<BreachMap> {
  return unwrap(api.GET('/api/v1/supervision/breach-map', { params: { query: { division_code: divisionCode } } }))
}

export function fetchFigures(query: { division_code: string; start: string; end: string }): Promise<Figures> {
  return unwrap(api.GET('/api/v1/supervision/figures', { params: { query } }))
}

export async function downloadFigures(query: { division_code: string; start: string; end: string }): Promise<Blob> {
  const blob: unknown = await unwrap(api.GET('/api/v1/supervision/figures/export', { params: { query }, parseAs: 'blob' }))
  return blob as Blob
}

/** The four strands of 人、案、物、场所 a timeline line belongs to. */
export function strandOf(kind: string): 'person' | 'case' | 'property' | 'place' | 'clock' {
  if (kind.startsWith('measure.')) return 'person'
  if (kind === 'property.moved') return 'property'
  if (kind === 'person.entered' || kind === 'person.left') return 'place'
  if (kind.startsWith('clock.')) return 'clock'
  return 'case'
}

/** A running limit's tone: red when due (or breached), yellow once its warning time passed. */
export function toneOf(
  row: { status?: string; due_at?: string | null; warn_at?: string | null; warned?: boolean },
  now: number,
): 'danger' | 'warning' | 'success' | 'info' {
  if (row.status === 'breached' || (row.due_at && Date.parse(row.due_at) <= now)) return 'danger'
  if (row.warned || (row.warn_at && Date.parse(row.warn_at) <= now)) return 'warning'
  if (row.status === 'paused') return 'info'
  return 'success'
}

/** Hours:minutes:seconds left to a deadline ('' when none or past). */
export function timeLeft(dueAt: string | null | undefined, now: number): string {
  if (!dueAt) return ''
  const left = Math.floor((Date.parse(dueAt) - now) / 1000)
  if (left <= 0) return ''
  const h = Math.floor(left / 3600)
  const m = Math.floor((left % 3600) / 60)
  const s = left % 60
  return `${h}:${String(m).padStart(2, '0')}:${String(s).padStart(2, '0')}`
}

export function localTime(iso: string | null | undefined): string {
  return iso ? new Date(iso).toLocaleString('zh-CN', { timeZone: 'Asia/Shanghai', hour12: false }) : '—'
}

export function yuan(fen: number | null | undefined): string {
  return fen === null || fen === undefined ? '—' : `¥${(fen / 100).toLocaleString('zh-CN', { minimumFractionDigits: 2 })}`
}
