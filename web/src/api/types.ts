// Response types read off the generated schema by path, so they follow the backend's models
// whatever the backend names them.
import type { paths } from './schema'

type JsonContent<R> = R extends { content: { 'application/json': infer J } } ? J : never

/** The JSON body a path answers with status 200 for a method. */
export type Ok<P extends keyof paths, M extends keyof paths[P]> = paths[P][M] extends {
  responses: { 200: infer R }
}
  ? JsonContent<R>
  : never

export type LoginResult = Ok<'/api/v1/auth/login', 'post'>
export type CurrentUser = LoginResult['user']
export type Division = Ok<'/api/v1/divisions/{code}', 'get'>
