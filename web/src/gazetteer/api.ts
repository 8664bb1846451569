// The platform gazetteer (GET /api/v1/gazetteer/search): what a name or address said in words may
// mean, ranked, each match with its county → township → village chain.
import { api, unwrap } from '@/api/client'
import type { Ok } from '@/api/types'

export type PlaceSearch = Ok<'/api/v1/gazetteer/search', 'get'>
export type PlaceMatch = PlaceSearch['matches'][number]

export function searchPlaces(q: string, limit = 10): Promise<PlaceSearch> {
  return unwrap(api.GET('/api/v1/gazetteer/search', { params: { query: { q, limit } } }))
}

/** "零陵区 › 朝阳街道 › 东岳宫社区": the chain in words. */
export function chainText(match: PlaceMatch): string {
  return match.chain.map((link) => link.name).join(' › ')
}

/** The division-code prefix a match covers (county 6, township 9, village 12 digits). */
export function matchPrefix(match: PlaceMatch): string {
  const code = match.division_code
  if (match.level === 'county') return code.slice(0, 6)
  if (match.level === 'township') return code.slice(0, 9)
  if (match.level === 'city') return code.slice(0, 4)
  return code.slice(0, 12)
}
