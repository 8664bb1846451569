// How matters read on screen: status colours, deadlines as "time left / overdue by", limits.
import { onScopeDispose, ref, type Ref } from 'vue'

type Translate = (key: string, values?: Record<string, unknown>) => string

export type TagType = 'primary' | 'success' | 'info' | 'warning' | 'danger'

const FINISHED = new Set(['closed', 'evaluated', 'rejected', 'cancelled', 'merged', 'handed_back', 'handed_off'])

export function isFinished(status: string): boolean {
  return FINISHED.has(status)
}

const PREFIX_LENGTH: Record<string, number> = { village: 12, township: 9, county: 6, city: 4 }

/** The jurisdiction prefix of the unit owning a matter (equal to the owner unit's own prefix). */
export function ownerPrefix(divisionCode: string, ownerLevel: string): string {
  return divisionCode.slice(0, PREFIX_LENGTH[ownerLevel] ?? divisionCode.length)
}

/** The tag colour of a status: finished grey/green, waiting orange, working blue. */
export function statusTag(status: string): TagType {
  if (status === 'closed' || status === 'evaluated') {
    return 'success'
  }
  if (FINISHED.has(status)) {
    return 'info'
  }
  if (status === 'reported' || status === 'escalated' || status === 'returned') {
    return 'warning'
  }
  return 'primary'
}

/** Red when overdue, yellow at 75 % of the step's time (the server decides both). */
export function alertTag(alert: string, overdue: boolean): TagType {
  if (overdue || alert === 'red') {
    return 'danger'
  }
  return alert === 'yellow' ? 'warning' : 'success'
}

/** "2 d 3 h", "3 h 5 min", "12 min" for a span of milliseconds. */
export function formatSpan(t: Translate, ms: number): string {
  const minutes = Math.max(0, Math.floor(Math.abs(ms) / 60_000))
  const days = Math.floor(minutes / 1440)
  const hours = Math.floor((minutes % 1440) / 60)
  if (days > 0) {
    return t('matters.duration.days', { d: days, h: hours })
  }
  if (hours > 0) {
    return t('matters.duration.hours', { h: hours, m: minutes % 60 })
  }
  return t('matters.duration.minutes', { m: minutes })
}

/** "3 h 5 min left" or "overdue by 2 d 1 h" for a deadline, against `now`. */
export function deadlineText(t: Translate, dueAt: string | null | undefined, now: number): string {
  if (!dueAt) {
    return t('matters.noDeadline')
  }
  const left = new Date(dueAt).getTime() - now
  return left >= 0 ? t('matters.timeLeft', { time: formatSpan(t, left) }) : t('matters.overdueBy', { time: formatSpan(t, left) })
}

/** A local date-time in Asia/Shanghai, the time zone the city works in. */
export function localTime(iso: string | null | undefined, locale: string): string {
  if (!iso) {
    return ''
  }
  return new Date(iso).toLocaleString(locale === 'en' ? 'en-GB' : 'zh-CN', {
    timeZone: 'Asia/Shanghai',
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
  })
}

/** A step's limit, e.g. "4 个工作小时". */
export function limitText(t: Translate, amount: number, unit: string): string {
  return t(`matters.units.${unit}`, { n: amount })
}

/** A percentage for a 0–1 rate, or a dash when there was nothing to divide by. */
export function percent(rate: number | null | undefined): string {
  return rate === null || rate === undefined ? '—' : `${(rate * 100).toFixed(1)}%`
}

/**
 * The current time, ticking every `everyMs` for countdowns on screen. This only redraws the
 * clock; the data itself changes by push.
 */
export function useNow(everyMs = 30_000): Ref<number> {
  const now = ref(Date.now())
  const timer = setInterval(() => (now.value = Date.now()), everyMs)
  onScopeDispose(() => clearInterval(timer))
  return now
}

/** A new idempotency key for one submission (kept across its retries). */
export function newIdempotencyKey(): string {
  if (typeof crypto.randomUUID === 'function') {
    return crypto.randomUUID()
  }
  // crypto.randomUUID needs a secure context; plain-HTTP intranet pages fall back to random bytes.
  const bytes = crypto.getRandomValues(new Uint8Array(16))
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('')
}
