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
