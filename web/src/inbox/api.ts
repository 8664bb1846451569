// The inbox endpoints (消息中心): my items, catching up after a reconnect, read, acknowledge.
import { api, unwrap } from '@/api/client'
import type { Ok } from '@/api/types'

export type InboxPage = Ok<'/api/v1/inbox', 'get'>
export type InboxItem = InboxPage['items'][number]

/** My latest items, unread first; the page's cursor is my newest item. */
export function listInbox(limit = 30): Promise<InboxPage> {
  return unwrap(api.GET('/api/v1/inbox', { params: { query: { limit } } }))
}

/** What arrived after `cursor`, oldest first, with the next cursor (after a push or a reconnect). */
export function inboxSince(cursor: string): Promise<InboxPage> {
  return unwrap(api.GET('/api/v1/inbox', { params: { query: { since: cursor, limit: 200 } } }))
}

export function markRead(id: string): Promise<InboxItem> {
  return unwrap(api.POST('/api/v1/inbox/{item_id}/read', { params: { path: { item_id: id } } }))
}

export function acknowledge(id: string): Promise<InboxItem> {
  return unwrap(api.POST('/api/v1/inbox/{item_id}/ack', { params: { path: { item_id: id } } }))
}

export function markAllRead(): Promise<Ok<'/api/v1/inbox/read-all', 'post'>> {
  return unwrap(api.POST('/api/v1/inbox/read-all'))
}
