// The signed-in user and the bearer token. The token lives in sessionStorage: it survives a
// reload of the tab but not closing it, and is never shared with other tabs' sessions.
import { defineStore } from 'pinia'
import { computed, ref } from 'vue'

import { api, unwrap } from '@/api/client'
import type { CurrentUser } from '@/api/types'

const TOKEN_KEY = 'civicgrid.token'

export const useSessionStore = defineStore('session', () => {
  const token = ref<string | null>(sessionStorage.getItem(TOKEN_KEY))
  const user = ref<CurrentUser | null>(null)

  const loggedIn = computed(() => token.value !== null && user.value !== null)

  function setToken(value: string | null): void {
    token.value = value
    if (value === null) {
      sessionStorage.removeItem(TOKEN_KEY)
    } else {
      sessionStorage.setItem(TOKEN_KEY, value)
    }
  }

  /** Sign in; the API's error message (wrong password, locked account…) is thrown as ApiError. */
  async function login(username: string, password: string): Promise<void> {
    const result = await unwrap(api.POST('/api/v1/auth/login', { body: { username, password } }))
    setToken(result.access_token)
    user.value = result.user
  }

  /** Reload the user behind a token kept from before a page reload; false when it is no longer valid. */
  async function restore(): Promise<boolean> {
    if (token.value === null) {
      return false
    }
    try {
      user.value = await unwrap(api.GET('/api/v1/auth/me'))
      return true
    } catch {
      clear()
      return false
    }
  }

  /** Revoke the token on the server, then forget it here even if the server could not be reached. */
  async function logout(): Promise<void> {
    try {
      if (token.value !== null) {
        await unwrap(api.POST('/api/v1/auth/logout'))
      }
    } catch {
      // The token is dropped locally either way; an unreachable server must not trap the user.
    } finally {
      clear()
    }
  }

  function clear(): void {
    setToken(null)
    user.value = null
  }

  function can(permission: string): boolean {
    return user.value?.permissions.includes(permission) ?? false
  }

  return { token, user, loggedIn, login, restore, logout, clear, can }
})
