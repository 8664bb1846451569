// The signed-in user and the bearer token. The token lives in sessionStorage: it survives a
// reload of the tab but not closing it, and is never shared with other tabs' sessions.
import { defineStore } from 'pinia'
import { computed, ref } from 'vue'

import { api, unwrap } from '@/api/client'
import type { CurrentUser } from '@/api/types'

const TOKEN_KEY = 'civicgrid.token'

/** The page that finishes a limited session's pending step, or null for a full session. */
export function pendingRoute(pending: string | null | undefined): 'accountPassword' | 'accountTotp' | null {
  if (pending === 'password_change') {
    return 'accountPassword'
  }
  return pending === 'totp_enrolment' ? 'accountTotp' : null
}

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

  /** Sign in; the API's error message (wrong password, locked account, code needed…) is thrown as
   * ApiError (code `totp_required` when the account has an authenticator and no code was given). */
  async function login(username: string, password: string, code?: string): Promise<void> {
    const body = code ? { username, password, code } : { username, password }
    const result = await unwrap(api.POST('/api/v1/auth/login', { body }))
    setToken(result.access_token)
    user.value = result.user
  }

  /** The step a limited session must finish first (change the password, enrol an authenticator). */
  const pending = computed(() => user.value?.pending ?? null)

  /** Change one's own password; the session may still need an authenticator afterwards. */
  async function changePassword(currentPassword: string, newPassword: string): Promise<void> {
    const result = await unwrap(api.POST('/api/v1/auth/password', {
      body: { current_password: currentPassword, new_password: newPassword },
    }))
    if (user.value) {
      user.value = { ...user.value, pending: result.pending }
    }
  }

  /** A fresh authenticator secret: the otpauth URI, its QR code and the key, shown once. */
  async function beginTotp(): Promise<{ secret: string; uri: string; qr_svg: string }> {
    return unwrap(api.POST('/api/v1/auth/totp/enrol'))
  }

  async function confirmTotp(code: string): Promise<void> {
    const result = await unwrap(api.POST('/api/v1/auth/totp/confirm', { body: { code } }))
    if (user.value) {
      user.value = { ...user.value, pending: result.pending, totp_enrolled: true }
    }
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

  return { token, user, loggedIn, pending, login, changePassword, beginTotp, confirmTotp, restore, logout, clear, can }
})
