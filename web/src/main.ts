import 'element-plus/dist/index.css'
import './styles.css'

import { ElMessage } from 'element-plus'
import { createPinia } from 'pinia'
import { createApp } from 'vue'

import { configureApi } from './api/client'
import App from './App.vue'
import { currentLocale, i18n } from './i18n'
import { useSessionStore } from './people/session'
import { realtime } from './realtime/client'
import { router } from './router'

const app = createApp(App)
const pinia = createPinia()
app.use(pinia).use(i18n).use(router)

const session = useSessionStore(pinia)

// Expired, idle-timed-out or revoked token: back to the login page, then to where the user was.
function sessionEnded(): void {
  if (session.token === null) {
    return
  }
  session.clear()
  realtime.stop()
  ElMessage.warning(i18n.global.t('errors.sessionExpired'))
  const here = router.currentRoute.value
  void router.push({ name: 'login', query: here.meta.public ? {} : { redirect: here.fullPath } })
}

configureApi({ token: () => session.token, language: currentLocale, onUnauthorized: sessionEnded })
realtime.onAuthLost = sessionEnded

document.documentElement.lang = currentLocale()
app.mount('#app')
