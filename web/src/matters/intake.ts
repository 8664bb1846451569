// What the intake pages share: the catalogue grouped by category, the point snapped to its
// grid, and a submission that is safe to retry — one Idempotency-Key per submission, kept
// across its retries, so a second tap on bad signal returns the matter the first one created.
import { computed, reactive, ref } from 'vue'
import { useI18n } from 'vue-i18n'

import { ApiError } from '@/api/client'
import {
  fetchTypes,
  locateGrid,
  reportMatter,
  uploadPhoto,
  type GridLocation,
  type MatterCreate,
  type MatterAnswer,
  type MatterType,
} from './api'
import { newIdempotencyKey } from './format'

export interface TypeGroup {
  category: string
  name: string
  types: MatterType[]
}

export function useIntake(channel: MatterCreate['channel']) {
  const { t } = useI18n()
  const types = ref<MatterType[]>([])
  const form = reactive({
    type_code: '',
    title: '',
    description: '',
    address: '',
    reporter_name: '',
    reporter_phone: '',
  })
  const point = ref<[number, number] | null>(null)
  const grid = ref<GridLocation | null>(null)
  const locateError = ref('')
  const photos = ref<File[]>([])
  const state = reactive({
    submitting: false,
    error: '',
    /** The last attempt failed on the way (no answer): the same key is sent again. */
    retryable: false,
  })
  const created = ref<MatterAnswer | null>(null)

  let key = newIdempotencyKey()
  // Photos already attached to the matter of this submission (a retry must not attach them twice).
  let uploaded = new Set<File>()

  const groups = computed<TypeGroup[]>(() => {
    const byCategory = new Map<string, TypeGroup>()
    for (const type of types.value) {
      let group = byCategory.get(type.category)
      if (!group) {
        group = { category: type.category, name: type.category_name, types: [] }
        byCategory.set(type.category, group)
      }
      group.types.push(type)
    }
    return [...byCategory.values()]
  })

  async function loadTypes(): Promise<void> {
    types.value = await fetchTypes()
  }

  /** Snap a point to its grid (404 outside the city, or outside the caller's jurisdiction). */
  async function place(lng: number, lat: number): Promise<void> {
    point.value = [lng, lat]
    grid.value = null
    locateError.value = ''
    try {
      grid.value = await locateGrid(lng, lat)
    } catch (err) {
      locateError.value = err instanceof ApiError && err.status === 404 ? t('intake.outside') : String((err as Error).message ?? err)
    }
  }

  /** The phone's position (the browser asks the user once). */
  function locateMe(): Promise<void> {
    return new Promise((resolve) => {
      if (!('geolocation' in navigator)) {
        locateError.value = t('intake.geoUnsupported')
        resolve()
        return
      }
      navigator.geolocation.getCurrentPosition(
        (position) => void place(position.coords.longitude, position.coords.latitude).then(resolve),
        (failure) => {
          locateError.value = t('intake.geoDenied', { message: failure.message })
          resolve()
        },
        { enableHighAccuracy: true, timeout: 15_000, maximumAge: 60_000 },
      )
    })
  }

  function missing(): string | null {
    if (!form.type_code) {
      return t('intake.required', { field: t('intake.type') })
    }
    if (!form.title.trim()) {
      return t('intake.required', { field: t('intake.titleField') })
    }
    if (!point.value) {
      return t('intake.needLocation')
    }
    return null
  }

  async function submit(): Promise<MatterAnswer | null> {
    const problem = missing()
    if (problem || !point.value) {
      state.error = problem ?? ''
      return null
    }
    state.submitting = true
    state.error = ''
    state.retryable = false
    try {
      const body: MatterCreate = {
        type_code: form.type_code,
        title: form.title.trim(),
        description: form.description.trim(),
        lng: point.value[0],
        lat: point.value[1],
        address: form.address.trim() || null,
        channel,
        reporter_name: form.reporter_name.trim() || null,
        reporter_phone: form.reporter_phone.trim() || null,
      }
      const matter = await reportMatter(body, key)
      for (const file of photos.value) {
        if (!uploaded.has(file)) {
          try {
            await uploadPhoto(matter.id, file, 'report')
          } catch (err) {
            // A refused photo (415/413) is named; the matter itself stands.
            if (err instanceof ApiError && err.status > 0 && err.status < 500) {
              uploaded.add(file)
              state.error = t('intake.photoFailed', { name: file.name, message: err.message })
              continue
            }
            throw err
          }
          uploaded.add(file)
        }
      }
      created.value = matter
      return matter
    } catch (err) {
      // No answer or a server fault: the matter may or may not exist; the same key makes a retry safe.
      state.retryable = !(err instanceof ApiError) || err.status === 0 || err.status >= 500
      state.error = err instanceof Error ? err.message : String(err)
      if (err instanceof ApiError && err.status === 0) {
        state.error = t('errors.network')
      }
      return null
    } finally {
      state.submitting = false
    }
  }

  /** Start a new submission (a new key). */
  function reset(): void {
    Object.assign(form, { type_code: '', title: '', description: '', address: '', reporter_name: '', reporter_phone: '' })
    photos.value = []
    point.value = null
    grid.value = null
    created.value = null
    state.error = ''
    state.retryable = false
    key = newIdempotencyKey()
    uploaded = new Set()
  }

  return { types, groups, form, point, grid, locateError, photos, state, created, loadTypes, place, locateMe, submit, reset }
}

/** "网格名（村, 乡镇, 县）" for a located grid. */
export function gridLabel(grid: GridLocation): { grid: string; chain: string } {
  return { grid: grid.name, chain: grid.chain.map((d) => d.name).join(' · ') }
}
