import { createRouter, createWebHistory, type RouteRecordRaw } from 'vue-router'

import { leafModules, visibleModules } from '@/modules'
import { useSessionStore } from '@/people/session'

// Built pages are loaded on demand, so the map (ECharts) is not in the login page's bundle.
const builtPages: Record<string, () => Promise<unknown>> = {
  grids: () => import('@/geo/GridsView.vue'),
}

const modulePages: RouteRecordRaw[] = leafModules().map((entry) => ({
  path: entry.path.slice(1),
  name: entry.key,
  component: builtPages[entry.key] ?? (() => import('@/common/UnderConstruction.vue')),
  props: builtPages[entry.key] ? false : { module: entry.key },
  meta: { module: entry.key },
}))

export const router = createRouter({
  history: createWebHistory(),
  routes: [
    { path: '/login', name: 'login', component: () => import('@/people/LoginView.vue'), meta: { public: true } },
    {
      path: '/',
      component: () => import('@/layout/MainLayout.vue'),
      children: [
        // Only reached by a role that may open no module at all; others are sent on by the guard.
        { path: '', name: 'home', component: () => import('@/common/UnderConstruction.vue'), props: { module: 'dashboard' } },
        ...modulePages,
      ],
    },
    { path: '/:pathMatch(.*)*', redirect: '/' },
  ],
})

router.beforeEach(async (to) => {
  if (to.meta.public) {
    return true
  }
  const session = useSessionStore()
  if (session.user === null && !(await session.restore())) {
    return { name: 'login', query: to.fullPath === '/' ? {} : { redirect: to.fullPath } }
  }
  if (to.name === 'home' && session.user) {
    // Land on the first built module the user's role may open (the grid map for most roles).
    const open = leafModules(visibleModules(session.user.permissions))
    const first = open.find((entry) => entry.built) ?? open[0]
    if (first) {
      return { path: first.path, replace: true }
    }
  }
  return true
})
