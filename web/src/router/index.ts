import { createRouter, createWebHistory, type RouteRecordRaw } from 'vue-router'

import { isNarrow } from '@/common/narrow'
import { leafModules, visibleModules } from '@/modules'
import { pendingRoute, useSessionStore } from '@/people/session'

// Built pages are loaded on demand, so the map (ECharts) is not in the login page's bundle.
const builtPages: Record<string, () => Promise<unknown>> = {
  alerts: () => import('@/alerts/AlertsView.vue'),
  dispatch: () => import('@/response/DispatchView.vue'),
  dispatchShifts: () => import('@/response/ShiftsView.vue'),
  disputeFiles: () => import('@/disputes/DisputesView.vue'),
  disputeWorkbench: () => import('@/disputes/WorkbenchView.vue'),
  disputeScreening: () => import('@/disputes/ScreeningView.vue'),
  disputeWarnings: () => import('@/disputes/WarningsView.vue'),
  disputeFigures: () => import('@/disputes/FiguresView.vue'),
  grids: () => import('@/geo/GridsView.vue'),
  matterQueue: () => import('@/matters/QueueView.vue'),
  matterHotline: () => import('@/matters/HotlineView.vue'),
  matterFigures: () => import('@/matters/FiguresView.vue'),
  matterCatalogue: () => import('@/matters/CatalogueView.vue'),
  calendar: () => import('@/worktime/CalendarView.vue'),
  orgUnits: () => import('@/people/OrgUnitsView.vue'),
  apiClients: () => import('@/apiclients/ApiClientsView.vue'),
  supervision: () => import('@/supervision/BoardView.vue'),
  supervisionCases: () => import('@/supervision/CasesView.vue'),
  supervisionRooms: () => import('@/supervision/RoomsView.vue'),
  supervisionProperty: () => import('@/supervision/PropertyView.vue'),
  supervisionRules: () => import('@/supervision/RulesView.vue'),
  supervisionMap: () => import('@/supervision/BreachMapView.vue'),
  supervisionFigures: () => import('@/supervision/FiguresView.vue'),
}

// Pages with their own phone-sized shell instead of the console layout (grid workers and
// residents report from a phone in the field).
const standalonePages: Record<string, () => Promise<unknown>> = {
  matterReport: () => import('@/matters/ReportMobileView.vue'),
  dispatchPhone: () => import('@/response/PhoneView.vue'),
  disputeIntake: () => import('@/disputes/IntakeMobileView.vue'),
}

const modulePages: RouteRecordRaw[] = leafModules()
  .filter((entry) => !(entry.key in standalonePages))
  .map((entry) => ({
    path: entry.path.slice(1),
    name: entry.key,
    component: builtPages[entry.key] ?? (() => import('@/common/UnderConstruction.vue')),
    props: builtPages[entry.key] ? false : { module: entry.key },
    meta: { module: entry.key },
  }))

const standaloneRoutes: RouteRecordRaw[] = leafModules()
  .filter((entry) => entry.key in standalonePages)
  .map((entry) => ({ path: entry.path, name: entry.key, component: standalonePages[entry.key], meta: { module: entry.key } }))

export const router = createRouter({
  history: createWebHistory(),
  routes: [
    { path: '/login', name: 'login', component: () => import('@/people/LoginView.vue'), meta: { public: true } },
    // A resident's link from an Open311 app: their report and its rating, no login (the key is the credential).
    {
      path: '/rate/:ratingKey([0-9a-f]{32}\\.[0-9a-f]{32})',
      name: 'residentRating',
      component: () => import('@/matters/ResidentRatingView.vue'),
      props: true,
      meta: { public: true },
    },
    // A limited session lands here before anything else (issue 9: forced password change, second factor).
    { path: '/account/password', name: 'accountPassword', component: () => import('@/people/PasswordChangeView.vue') },
    { path: '/account/totp', name: 'accountTotp', component: () => import('@/people/TotpEnrolView.vue') },
    ...standaloneRoutes,
    {
      path: '/',
      component: () => import('@/layout/MainLayout.vue'),
      children: [
        // Only reached by a role that may open no module at all; others are sent on by the guard.
        { path: '', name: 'home', component: () => import('@/common/UnderConstruction.vue'), props: { module: 'dashboard' } },
        ...modulePages,
        {
          path: 'matters/:id([0-9a-f]{32})',
          name: 'matter',
          component: () => import('@/matters/MatterView.vue'),
          props: true,
          meta: { module: 'matterQueue' },
        },
        {
          path: 'supervision/cases/:id([0-9a-f]{32})',
          name: 'supervisionCase',
          component: () => import('@/supervision/CaseView.vue'),
          props: true,
          meta: { module: 'supervisionCases' },
        },
        {
          path: 'disputes/:id([0-9a-f]{32})',
          name: 'dispute',
          component: () => import('@/disputes/DisputeFileView.vue'),
          props: true,
          meta: { module: 'disputeFiles' },
        },
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
  const step = pendingRoute(session.pending)
  if (step !== null && to.name !== step) {
    return { name: step, query: to.query.redirect ? { redirect: to.query.redirect } : {}, replace: true }
  }
  if (step === null && (to.name === 'accountPassword' || to.name === 'accountTotp')) {
    return { path: '/', replace: true }
  }
  if (to.name === 'home' && session.user) {
    // On a phone, officers who work a queue (village and township: they verify) start on it; whoever
    // reports in the field (grid workers, volunteers) on the intake page, which leads to the queue.
    // Patrol officers (who answer orders but command none) start on the unit's phone page.
    // `?console=1` (the phone shell's menu button) asks for the rest of the menu instead, here and below.
    if (session.can('dispatch.respond') && !session.can('dispatch.command') && !to.query.console) {
      return { name: 'dispatchPhone', replace: true }
    }
    // (A grid worker verifies too, on site, but reports first: their jurisdiction is one grid.)
    if (isNarrow() && session.can('matters.verify') && session.user.jurisdiction.length <= 12) {
      return { name: 'matterQueue', replace: true }
    }
    if (isNarrow() && session.can('matters.report') && !to.query.console) {
      return { name: 'matterReport', replace: true }
    }
    // Land on the first built module the user's role may open (the grid map for most roles).
    const open = leafModules(visibleModules(session.user.permissions))
    const first = open.find((entry) => entry.built) ?? open[0]
    if (first) {
      return { path: first.path, replace: true }
    }
  }
  return true
})
