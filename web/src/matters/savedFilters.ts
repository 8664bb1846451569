// Saved queue filters, per user, in this browser's local storage (issue 11 §3): a name and the
// filters the queue sends to GET /api/v1/matters.

export interface SavedFilter {
  name: string
  queue: 'mine' | 'division' | 'reported_by_me'
  status: string
  overdue: boolean
  q: string
  unit: string
  type_code: string
  category: string
  channel: string
  dates: [string, string] | null
  flags: string[]
}

const PREFIX = 'civicgrid.queueFilters.'

export function loadSaved(user: string): SavedFilter[] {
  if (!user) {
    return []
  }
  try {
    const raw = localStorage.getItem(PREFIX + user)
    const parsed: unknown = raw ? JSON.parse(raw) : []
    return Array.isArray(parsed) ? (parsed as SavedFilter[]) : []
  } catch {
    return []
  }
}

export function storeSaved(user: string, filters: SavedFilter[]): void {
  if (user) {
    localStorage.setItem(PREFIX + user, JSON.stringify(filters))
  }
}
