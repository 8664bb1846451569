// The working-calendar endpoints (docs/api/matters.md § Working calendar).
import { api, unwrap } from '@/api/client'
import type { Ok } from '@/api/types'

export type CalendarOverview = Ok<'/api/v1/calendar/years', 'get'>
export type CalendarYear = CalendarOverview['years'][number]
export type CalendarGap = CalendarOverview['gaps'][number]
export type YearDetail = Ok<'/api/v1/calendar/years/{year}', 'get'>

export function fetchOverview(): Promise<CalendarOverview> {
  return unwrap(api.GET('/api/v1/calendar/years'))
}

export function fetchYear(year: number): Promise<YearDetail> {
  return unwrap(api.GET('/api/v1/calendar/years/{year}', { params: { path: { year } } }))
}

/** Import a year's arrangement from a CSV or Excel file (header date,kind,name); refused whole. */
export function uploadYear(year: number, file: File, source: string): Promise<YearDetail> {
  const form = new FormData()
  form.append('file', file, file.name)
  form.append('source', source)
  return unwrap(
    api.POST('/api/v1/calendar/years/{year}/upload', {
      params: { path: { year } },
      body: { file: '', source },
      bodySerializer: () => form,
    }),
  )
}

// Statutory time (法定期间): the rules with their legal basis, and a computed deadline.
export type StatutoryRule = Ok<'/api/v1/worktime/statutory/rules', 'get'>[number]
export type StatutoryDeadline = Ok<'/api/v1/worktime/statutory/compute', 'post'>
export interface ClockEvent {
  kind: 'pause' | 'resume' | 'restart'
  at: string
  reason: string
}

export function fetchStatutoryRules(): Promise<StatutoryRule[]> {
  return unwrap(api.GET('/api/v1/worktime/statutory/rules'))
}

/** The deadline of a rule from a start (ISO 8601 with offset) and optional adjustments. */
export function computeStatutory(rule: string, start: string, adjustments: ClockEvent[]): Promise<StatutoryDeadline> {
  return unwrap(api.POST('/api/v1/worktime/statutory/compute', { body: { rule, start, adjustments } }))
}
