// The one HTTP client of the console: openapi-fetch typed by the generated schema, plus the
// bearer token, the user's language and the "session ended → login page" rule.
import createClient, { type Middleware } from 'openapi-fetch'

import type { paths } from './schema'

/** An error answered by the API: `{"error": {"code", "message"}}`, message in the user's language. */
export class ApiError extends Error {
  readonly status: number
  readonly code: string

  constructor(status: number, code: string, message: string) {
    super(message)
    this.name = 'ApiError'
    this.status = status
    this.code = code
  }
}

interface ApiHooks {
  token: () => string | null
  language: () => string
  onUnauthorized: () => void
}

const hooks: ApiHooks = {
  token: () => null,
  language: () => 'zh-CN',
  onUnauthorized: () => undefined,
}

/** Wire the client to the session store and the router (main.ts); keeps this module store-free. */
export function configureApi(next: Partial<ApiHooks>): void {
  Object.assign(hooks, next)
}

// A failed login is also a 401, but it must stay on the login form with its message.
const LOGIN_PATH = '/api/v1/auth/login'

const session: Middleware = {
  onRequest({ request }) {
    const token = hooks.token()
    if (token) {
      request.headers.set('Authorization', `Bearer ${token}`)
    }
    request.headers.set('Accept-Language', hooks.language())
    return request
  },
  onResponse({ request, response }) {
    if (response.status === 401 && new URL(request.url).pathname !== LOGIN_PATH) {
      hooks.onUnauthorized()
    }
    return response
  },
}

export const api = createClient<paths>({ baseUrl: window.location.origin })
api.use(session)

interface ApiResult<T> {
  data?: T
  error?: unknown
  response: Response
}

/** Await an openapi-fetch call: its data, or an ApiError carrying the server's message. */
export async function unwrap<T>(call: Promise<ApiResult<T>>): Promise<NonNullable<T>> {
  let result: ApiResult<T>
  try {
    result = await call
  } catch (err) {
    throw new ApiError(0, 'network', err instanceof Error ? err.message : String(err))
  }
  const { data, error, response } = result
  if (!response.ok || error !== undefined) {
    throw toApiError(response, error)
  }
  return data as NonNullable<T>
}

function toApiError(response: Response, body: unknown): ApiError {
  if (typeof body === 'object' && body !== null && 'error' in body) {
    const inner = (body as { error: unknown }).error
    if (typeof inner === 'object' && inner !== null) {
      const { code, message } = inner as { code?: unknown; message?: unknown }
      if (typeof message === 'string') {
        return new ApiError(response.status, typeof code === 'string' ? code : 'error', message)
      }
    }
  }
  return new ApiError(response.status, 'http_' + response.status, response.statusText || `HTTP ${response.status}`)
}
