// The layout is picked by screen width, not by role (issue 11 §1): under 768 px the console is a
// phone app — a header with a menu drawer, cards instead of tables, one column.
import { onBeforeUnmount, ref, type Ref } from 'vue'

export const PHONE_QUERY = '(max-width: 768px)'

/** Whether the window is phone-sized now (follows rotation and resizing). */
export function isNarrow(): boolean {
  return window.matchMedia(PHONE_QUERY).matches
}

/** A reactive `isNarrow()` for a component. */
export function useNarrow(): Ref<boolean> {
  const media = window.matchMedia(PHONE_QUERY)
  const narrow = ref(media.matches)
  const update = (event: MediaQueryListEvent): void => {
    narrow.value = event.matches
  }
  media.addEventListener('change', update)
  onBeforeUnmount(() => media.removeEventListener('change', update))
  return narrow
}
