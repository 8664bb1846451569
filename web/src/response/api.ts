// The rapid-response (永州快警) endpoints (docs/architecture.md rule 17).
import { api, unwrap } from '@/api/client'
import type { Ok } from '@/api/types'

export type IncidentPage = Ok<'/api/v1/response/incidents', 'get'>
export type IncidentRow = IncidentPage['items'][number]
export type IncidentDetail = Ok<'/api/v1/response/incidents/{incident_id}', 'get'>
export type Recommendation = Ok<'/api/v1/response/incidents/{incident_id}/recommendations', 'get'>[number]
// POST /incidents answers 201 (Ok<> reads 200s): the detail plus the recommendations and merge proposals.
export type IncidentCreated = IncidentDetail & { recommendations: Recommendation[]; merge_candidates: string[] }

export const CATEGORIES = ['criminal', 'public_order', 'traffic', 'dispute', 'help', 'fire', 'other'] as const
export const OPEN_STATUSES = ['received', 'dispatched', 'on_scene', 'handled', 'feedback_filed']

export function fetchIncidents(): Promise<IncidentPage> {
  return unwrap(api.GET('/api/v1/response/incidents', { params: { query: { status: OPEN_STATUSES, limit: 100 } } }))
}

export function fetchIncident(id: string): Promise<IncidentDetail> {
  return unwrap(api.GET('/api/v1/response/incidents/{incident_id}', { params: { path: { incident_id: id } } }))
}

export function fetchRecommendations(id: string): Promise<Recommendation[]> {
  return unwrap(
    api.GET('/api/v1/response/incidents/{incident_id}/recommendations', { params: { path: { incident_id: id } } }),
  )
}

export function createIncident(body: {
  category: string
  priority: number
  lng: number
  lat: number
  summary: string
}): Promise<IncidentCreated> {
  return unwrap(api.POST('/api/v1/response/incidents', { body })) as Promise<IncidentCreated>
}

export function dispatchUnits(id: string, unitIds: string[]): Promise<IncidentDetail> {
  return unwrap(
    api.POST('/api/v1/response/incidents/{incident_id}/dispatch', {
      params: { path: { incident_id: id } },
      body: { unit_ids: unitIds },
    }),
  )
}

// The phone page of a patrol officer (PhoneView): the caller's units and their live orders.
export type MyWork = Ok<'/api/v1/response/mine', 'get'>
export type MyOrder = MyWork['orders'][number]
export type MyUnit = MyWork['units'][number]

export function fetchMine(): Promise<MyWork> {
  return unwrap(api.GET('/api/v1/response/mine'))
}

export function assignmentAction(
  id: string,
  action: 'acknowledge' | 'depart' | 'arrive' | 'release',
  where: { lng?: number; lat?: number } = {},
): Promise<unknown> {
  return unwrap(
    api.POST('/api/v1/response/assignments/{assignment_id}/actions/{action}', {
      params: { path: { assignment_id: id, action } },
      body: { ...where },
    }),
  )
}

export function incidentAction(
  id: string,
  action: 'handle' | 'file_report',
  body: { confirmed_nature?: string; outcome?: string; case_opened?: boolean; case_number?: string } = {},
): Promise<IncidentDetail> {
  return unwrap(
    api.POST('/api/v1/response/incidents/{incident_id}/actions/{incident_action}', {
      params: { path: { incident_id: id, incident_action: action } },
      body,
    }),
  )
}

export function unitAction(id: string, action: 'sign_on' | 'sign_off'): Promise<unknown> {
  return unwrap(
    api.POST('/api/v1/response/units/{response_unit_id}/actions/{unit_action}', {
      params: { path: { response_unit_id: id, unit_action: action } },
      body: {},
    }),
  )
}

export function reportPosition(id: string, lng: number, lat: number): Promise<unknown> {
  return unwrap(
    api.POST('/api/v1/response/units/{response_unit_id}/positions', {
      params: { path: { response_unit_id: id } },
      body: { points: [{ lng, lat }] },
    }),
  )
}

const EARTH_M = 6_371_008.8

/** Great-circle distance in metres and initial bearing in degrees (0 = north, clockwise). */
export function distanceAndBearing(
  from: { lng: number; lat: number },
  to: { lng: number; lat: number },
): { metres: number; bearing: number } {
  const rad = Math.PI / 180
  const p1 = from.lat * rad
  const p2 = to.lat * rad
  const dp = p2 - p1
  const dl = (to.lng - from.lng) * rad
  const a = Math.sin(dp / 2) ** 2 + Math.cos(p1) * Math.cos(p2) * Math.sin(dl / 2) ** 2
  const metres = 2 * EARTH_M * Math.asin(Math.min(1, Math.sqrt(a)))
  const y = Math.sin(dl) * Math.cos(p2)
  const x = Math.cos(p1) * Math.sin(p2) - Math.sin(p1) * Math.cos(p2) * Math.cos(dl)
  const bearing = ((Math.atan2(y, x) / rad) + 360) % 360
  return { metres, bearing }
}

/** 北 / 东北 / … for a bearing (zh) or N / NE / … (en). */
export function compassPoint(bearing: number, zh: boolean): string {
  const names = zh ? ['北', '东北', '东', '东南', '南', '西南', '西', '西北'] : ['N', 'NE', 'E', 'SE', 'S', 'SW', 'W', 'NW']
  return names[Math.round(bearing / 45) % 8]
}

// The command map (DispatchMap): units with their latest positions and the drawn ring zones.
export type UnitPage = Ok<'/api/v1/response/units', 'get'>
export type Zone = Ok<'/api/v1/response/zones', 'get'>[number]

export function fetchUnits(): Promise<UnitPage> {
  return unwrap(api.GET('/api/v1/response/units', { params: { query: { limit: 500 } } }))
}

export function fetchZones(): Promise<Zone[]> {
  return unwrap(api.GET('/api/v1/response/zones'))
}

export function takeOver(id: string, note: string): Promise<IncidentDetail> {
  return unwrap(
    api.POST('/api/v1/response/incidents/{incident_id}/actions/{incident_action}', {
      params: { path: { incident_id: id, incident_action: 'take_over' } },
      body: { note },
    }),
  )
}

// Shifts (班次, ShiftsView): a unit is available during its shifts and off duty outside them.
export type Shift = Ok<'/api/v1/response/shifts', 'get'>[number]

export function fetchShifts(): Promise<Shift[]> {
  return unwrap(api.GET('/api/v1/response/shifts'))
}

export function createShift(
  unitId: string,
  body: { starts_at: string; ends_at: string; members: string[]; note?: string },
): Promise<Shift> {
  return unwrap(
    api.POST('/api/v1/response/units/{response_unit_id}/shifts', {
      params: { path: { response_unit_id: unitId } },
      body,
    }),
  ) as Promise<Shift>
}

export function cancelShift(id: string): Promise<Shift> {
  return unwrap(api.POST('/api/v1/response/shifts/{shift_id}/cancel', { params: { path: { shift_id: id } } }))
}
