import { getCurrentScope, onScopeDispose, watch } from 'vue'

import { realtime, type RealtimeEvent } from './client'

export interface LiveRefetchOptions {
  /** Only these notices trigger a re-fetch (default: every notice on the channel). */
  accept?: (event: RealtimeEvent) => boolean
  /** A burst of notices within this many milliseconds causes one re-fetch. */
  coalesceMs?: number
}

/**
 * Re-run `refetch` when a notice arrives on `channel` (a getter: it follows the page's state;
 * null = no subscription) and after every reconnect. Use inside a component's setup.
 *
 *     useLiveRefetch(() => `division:${jurisdiction.value}`, reload, { accept: (e) => e.event.startsWith('geo.') })
 */
export function useLiveRefetch(
  channel: () => string | null,
  refetch: () => void,
  options: LiveRefetchOptions = {},
): void {
  const { accept = () => true, coalesceMs = 250 } = options
  let pending: ReturnType<typeof setTimeout> | undefined
  const schedule = (): void => {
    clearTimeout(pending)
    pending = setTimeout(refetch, coalesceMs)
  }
  let unsubscribe: (() => void) | null = null
  watch(
    channel,
    (name) => {
      unsubscribe?.()
      unsubscribe = name ? realtime.subscribe(name, (event) => accept(event) && schedule()) : null
    },
    { immediate: true },
  )
  const stopReconnect = realtime.onReconnect(schedule)
  if (getCurrentScope()) {
    onScopeDispose(() => {
      unsubscribe?.()
      stopReconnect()
      clearTimeout(pending)
    })
  }
}
