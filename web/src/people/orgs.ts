// The org-unit endpoints (people/orgs): units, types, departments, responsibility areas.
import { api, unwrap } from '@/api/client'
import type { Ok } from '@/api/types'
import type { paths } from '@/api/schema'

export type OrgUnitType = Ok<'/api/v1/org-unit-types', 'get'>[number]
export type OrgUnitPage = Ok<'/api/v1/org-units', 'get'>
export type OrgUnit = OrgUnitPage['items'][number]
export type OrgUnitArea = Ok<'/api/v1/org-units/{unit_id}/area', 'get'>
export type Department = Ok<'/api/v1/org-units/{unit_id}/departments', 'get'>[number]
export type OrgUnitCreate = paths['/api/v1/org-units']['post']['requestBody']['content']['application/json']
export type DepartmentCreate =
  paths['/api/v1/org-units/{unit_id}/departments']['post']['requestBody']['content']['application/json']

export function fetchTypes(): Promise<OrgUnitType[]> {
  return unwrap(api.GET('/api/v1/org-unit-types'))
}

export function fetchUnits(query: { type_code?: string; q?: string; offset?: number; limit?: number }): Promise<OrgUnitPage> {
  return unwrap(api.GET('/api/v1/org-units', { params: { query } }))
}

export function createUnit(body: OrgUnitCreate): Promise<OrgUnit> {
  return unwrap(api.POST('/api/v1/org-units', { body }))
}

export function fetchArea(unitId: string): Promise<OrgUnitArea> {
  return unwrap(api.GET('/api/v1/org-units/{unit_id}/area', { params: { path: { unit_id: unitId } } }))
}

/** Set the area to these grids (an empty list clears it: the unit is scoped by its division again). */
export function saveAreaGrids(unitId: string, grids: string[]): Promise<OrgUnitArea> {
  return unwrap(
    api.PUT('/api/v1/org-units/{unit_id}/area', {
      params: { path: { unit_id: unitId } },
      body: grids.length ? { grids } : {},
    }),
  )
}

export function fetchDepartments(unitId: string): Promise<Department[]> {
  return unwrap(api.GET('/api/v1/org-units/{unit_id}/departments', { params: { path: { unit_id: unitId } } }))
}

export function createDepartment(unitId: string, body: DepartmentCreate): Promise<Department> {
  return unwrap(api.POST('/api/v1/org-units/{unit_id}/departments', { params: { path: { unit_id: unitId } }, body }))
}
