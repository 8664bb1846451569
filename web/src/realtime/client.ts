// One WebSocket per signed-in tab (`/api/v1/ws`, see civicgrid.realtime.endpoints). The token goes
// in the first frame, never in the address (an address lands in access logs): the server refuses
// `?token=`. Pages subscribe to channels, receive small "this changed" notices and re-fetch over the API
// (STYLE.md: push then re-fetch, no polling loops). After a drop it reconnects with back-off,
// re-subscribes, and tells the pages to re-fetch, since notices may have been missed meanwhile.
import { ref } from 'vue'

/** A notice pushed by the server (frame type "event"). */
export interface RealtimeEvent {
  type: 'event'
  /** The subscription that matched, e.g. "division:431102". */
  channel: string
  /** The channel it was published on, e.g. "entity:matter:…". */
  origin: string
  event: string
  data: Record<string, unknown>
  division_code: string | null
  at: string
}

type Listener = (event: RealtimeEvent) => void

// 4401: token missing, revoked or timed out; 4403: the role may not subscribe. Retrying is pointless.
const CLOSE_NOT_AUTHENTICATED = 4401
const CLOSE_FORBIDDEN = 4403
const MAX_BACKOFF_MS = 30_000

export function socketUrl(location: Location = window.location): string {
  const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:'
  return `${scheme}//${location.host}/api/v1/ws`
}

export class RealtimeClient {
  /** Whether the socket is open and authenticated (shown in the header). */
  readonly connected = ref(false)

  private socket: WebSocket | null = null
  private token: string | null = null
  private attempts = 0
  private retryTimer: ReturnType<typeof setTimeout> | undefined
  private readonly listeners = new Map<string, Set<Listener>>()
  private readonly reconnectListeners = new Set<() => void>()
  /** What to do when the server ends the session (close code 4401); set once by main.ts. */
  onAuthLost: () => void = () => undefined

  /** Open the socket for a session token (idempotent for the same token). */
  start(token: string): void {
    if (this.token === token && this.socket !== null) {
      return
    }
    this.stop()
    this.token = token
    this.connect()
  }

  /** Close the socket and forget the token (logout). Subscriptions stay, for the next start. */
  stop(): void {
    this.token = null
    clearTimeout(this.retryTimer)
    this.attempts = 0
    const socket = this.socket
    this.socket = null
    socket?.close(1000)
    this.connected.value = false
  }

  /** Listen on a channel; the returned function stops listening (and unsubscribes the last listener). */
  subscribe(channel: string, listener: Listener): () => void {
    let set = this.listeners.get(channel)
    if (!set) {
      set = new Set()
      this.listeners.set(channel, set)
      this.send({ action: 'subscribe', channel })
    }
    set.add(listener)
    return () => {
      const current = this.listeners.get(channel)
      if (!current?.delete(listener) || current.size > 0) {
        return
      }
      this.listeners.delete(channel)
      this.send({ action: 'unsubscribe', channel })
    }
  }

  /** Be told after each reconnect (re-fetch: notices sent while the socket was down are lost). */
  onReconnect(listener: () => void): () => void {
    this.reconnectListeners.add(listener)
    return () => this.reconnectListeners.delete(listener)
  }

  private send(frame: object): void {
    if (this.socket?.readyState === WebSocket.OPEN) {
      this.socket.send(JSON.stringify(frame))
    }
  }

  private connect(): void {
    if (this.token === null) {
      return
    }
    const token = this.token
    const socket = new WebSocket(socketUrl())
    this.socket = socket
    socket.onopen = () => {
      if (this.socket !== socket) {
        return
      }
      // Authenticate first: the server reads this frame before any other.
      socket.send(JSON.stringify({ action: 'auth', token }))
      this.connected.value = true
      for (const channel of this.listeners.keys()) {
        this.send({ action: 'subscribe', channel })
      }
      if (this.attempts > 0) {
        this.reconnectListeners.forEach((listener) => listener())
      }
      this.attempts = 0
    }
    socket.onmessage = (message: MessageEvent) => {
      let frame: unknown
      try {
        frame = JSON.parse(String(message.data))
      } catch {
        return
      }
      if (typeof frame === 'object' && frame !== null && (frame as { type?: unknown }).type === 'event') {
        const event = frame as RealtimeEvent
        this.listeners.get(event.channel)?.forEach((listener) => listener(event))
      }
    }
    socket.onclose = (event: CloseEvent) => {
      if (this.socket !== socket) {
        return
      }
      this.socket = null
      this.connected.value = false
      if (event.code === CLOSE_NOT_AUTHENTICATED) {
        this.token = null
        this.onAuthLost()
        return
      }
      if (event.code === CLOSE_FORBIDDEN || this.token === null) {
        return
      }
      // 1 s, 2 s, 4 s… up to 30 s: reconnecting after a restart or a network drop, not polling.
      const delay = Math.min(MAX_BACKOFF_MS, 1000 * 2 ** this.attempts)
      this.attempts += 1
      this.retryTimer = setTimeout(() => this.connect(), delay)
    }
  }
}

/** The tab's connection, started by the main layout once a user is signed in. */
export const realtime = new RealtimeClient()
