// The API-client administration endpoints (apiclients): register (key shown once), list, rotate, revoke.
import { api, unwrap } from '@/api/client'
import type { Ok } from '@/api/types'
import type { paths } from '@/api/schema'

export type ApiClient = Ok<'/api/v1/api-clients', 'get'>[number]
export type ApiClientKey = ApiClient & { api_key: string } // the 201 answer: the key, shown once
export type ApiClientCreate = paths['/api/v1/api-clients']['post']['requestBody']['content']['application/json']
export type Kinds = Ok<'/api/v1/api-clients/kinds', 'get'>

export function fetchKinds(): Promise<Kinds> {
  return unwrap(api.GET('/api/v1/api-clients/kinds'))
}

export function fetchClients(): Promise<ApiClient[]> {
  return unwrap(api.GET('/api/v1/api-clients'))
}

export function createClient(body: ApiClientCreate): Promise<ApiClientKey> {
  return unwrap(api.POST('/api/v1/api-clients', { body }))
}

export function rotateKey(clientId: string): Promise<ApiClientKey> {
  return unwrap(api.POST('/api/v1/api-clients/{client_id}/rotate', { params: { path: { client_id: clientId } } }))
}

export function revokeClient(clientId: string): Promise<ApiClient> {
  return unwrap(api.POST('/api/v1/api-clients/{client_id}/revoke', { params: { path: { client_id: clientId } } }))
}
