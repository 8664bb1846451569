// The city this deployment governs (GET /api/v1/city, from its city.json): the console's title
// names it, so a second city needs no code change. Fetched once, shared by every page.
import { computed, ref, type ComputedRef } from 'vue'
import { useI18n } from 'vue-i18n'

import { api } from '@/api/client'

export interface CityInfo {
  code: string
  name: string
  name_en: string
  matter_number_prefix: string
}

const city = ref<CityInfo | null>(null)
let loading: Promise<void> | null = null

export function loadCity(): Promise<void> {
  loading ??= api.GET('/api/v1/city').then(({ data }) => {
    if (data) city.value = data as unknown as CityInfo
    if (city.value) document.title = `${city.value.name}市域社会治理平台`
  })
  return loading
}

/** "永州市域社会治理平台" / "Yongzhou City Governance Platform", for the configured city. */
export function usePlatformTitle(): ComputedRef<string> {
  const { t, locale } = useI18n()
  void loadCity()
  return computed(() => {
    const c = city.value
    const name = c ? (locale.value.startsWith('en') ? c.name_en : c.name.replace(/市$/, '')) : ''
    return t('app.title', { city: name })
  })
}
