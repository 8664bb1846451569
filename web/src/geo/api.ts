// The geo endpoints the console reads: divisions (tree) and boundaries (map).
import { api, unwrap } from '@/api/client'
import type { Division } from '@/api/types'

export type DivisionLevel = 'city' | 'county' | 'township' | 'village' | 'grid'

/** A step of the drill-down path (breadcrumb): a division or a grid. */
export interface Crumb {
  code: string
  name: string
  level: string
}

/** Properties of a boundary feature, as `GET /api/v1/geo/{code}.geojson` sends them. */
export interface BoundaryProperties extends Crumb {
  /** True when the outline was generated for the demo (schematic), not surveyed. */
  generated: boolean
  /** A point inside the outline where its name goes ([lng, lat]). */
  label?: [number, number] | null
}

export interface BoundaryFeature {
  type: 'Feature'
  geometry: { type: string; coordinates: unknown } | null
  properties: BoundaryProperties
}

/** GeoJSON (RFC 7946) FeatureCollection of the boundaries one level below a division. */
export interface BoundaryCollection {
  type: 'FeatureCollection'
  features: BoundaryFeature[]
}

export function fetchDivision(code: string): Promise<Division> {
  return unwrap(api.GET('/api/v1/divisions/{code}', { params: { path: { code } } }))
}

export function fetchChildren(code: string): Promise<Division[]> {
  return unwrap(api.GET('/api/v1/divisions/{code}/children', { params: { path: { code } } }))
}

export async function fetchBoundaries(code: string, outline = false): Promise<BoundaryCollection> {
  const body: unknown = await unwrap(
    api.GET('/api/v1/geo/{code}.geojson', { params: { path: { code }, query: { outline } } }),
  )
  return body as BoundaryCollection
}
