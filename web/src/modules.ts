// Every module of the mission (MISSION.md), in the order of the side navigation. `built` marks
// the ones with a real page; the others show the plain "under construction" page.
import type { Component } from 'vue'
import {
  Aim,
  Briefcase,
  Calendar,
  Camera,
  Connection,
  DataBoard,
  Flag,
  Grid,
  Key,
  Lightning,
  List,
  Phone,
  Setting,
  Tickets,
  TrendCharts,
  User,
  UserFilled,
  View,
  Document,
  WarningFilled,
  OfficeBuilding,
} from '@element-plus/icons-vue'

export interface ModuleEntry {
  /** Route name and i18n key under `nav.` */
  key: string
  path: string
  icon: Component
  /** Any one of these permissions shows the entry (roles.json); none listed = every signed-in user. */
  permissions?: string[]
  built: boolean
  children?: ModuleEntry[]
}

export const MODULES: ModuleEntry[] = [
  { key: 'dashboard', path: '/dashboard', icon: DataBoard, permissions: ['dashboards.read'], built: false },
  { key: 'grids', path: '/grids', icon: Grid, permissions: ['geo.read'], built: true },
  {
    key: 'matters',
    path: '/matters',
    icon: Tickets,
    permissions: ['matters.read', 'matters.report', 'matters.configure'],
    built: true,
    children: [
      { key: 'matterQueue', path: '/matters/queue', icon: Tickets, permissions: ['matters.read'], built: true },
      { key: 'matterReport', path: '/matters/report', icon: Camera, permissions: ['matters.report'], built: true },
      { key: 'matterHotline', path: '/matters/hotline', icon: Phone, permissions: ['matters.report'], built: true },
      { key: 'matterFigures', path: '/matters/figures', icon: TrendCharts, permissions: ['matters.read'], built: true },
      {
        key: 'matterCatalogue',
        path: '/matters/catalogue',
        icon: List,
        permissions: ['matters.configure'],
        built: true,
      },
    ],
  },
  { key: 'alerts', path: '/alerts', icon: WarningFilled, permissions: ['alerts.read'], built: true },
  {
    key: 'disputes',
    path: '/disputes',
    icon: Connection,
    permissions: ['disputes.read', 'petitions.read'],
    built: true,
    children: [
      { key: 'disputeFiles', path: '/disputes/files', icon: Tickets, permissions: ['disputes.read', 'petitions.read'], built: true },
      { key: 'disputeIntake', path: '/disputes/intake', icon: Camera, permissions: ['disputes.register'], built: true },
      { key: 'disputeWorkbench', path: '/disputes/workbench', icon: Briefcase, permissions: ['disputes.mediate'], built: true },
      { key: 'disputeScreening', path: '/disputes/screening', icon: List, permissions: ['disputes.register'], built: true },
      { key: 'disputeWarnings', path: '/disputes/warnings', icon: WarningFilled, permissions: ['disputes.read'], built: true },
      { key: 'disputeFigures', path: '/disputes/figures', icon: TrendCharts, permissions: ['disputes.read'], built: true },
    ],
  },
  { key: 'dispatch', path: '/dispatch', icon: Lightning, permissions: ['dispatch.read'], built: true },
  { key: 'dispatchPhone', path: '/dispatch/phone', icon: Phone, permissions: ['dispatch.respond'], built: true },
  { key: 'dispatchShifts', path: '/dispatch/shifts', icon: Calendar, permissions: ['dispatch.units'], built: true },
  {
    key: 'volunteers',
    path: '/volunteers',
    icon: UserFilled,
    permissions: ['volunteers.read', 'volunteers.participate'],
    built: false,
  },
  {
    key: 'supervisionCentre',
    path: '/supervision-centre',
    icon: View,
    permissions: ['supervision.read'],
    built: true,
    children: [
      { key: 'supervision', path: '/supervision', icon: View, permissions: ['supervision.read'], built: true },
      { key: 'supervisionCases', path: '/supervision/cases', icon: Tickets, permissions: ['supervision.read'], built: true },
      { key: 'supervisionRooms', path: '/supervision/rooms', icon: OfficeBuilding, permissions: ['supervision.read'], built: true },
      { key: 'supervisionProperty', path: '/supervision/property', icon: Briefcase, permissions: ['supervision.read'], built: true },
      { key: 'supervisionRules', path: '/supervision/rules', icon: List, permissions: ['supervision.read'], built: true },
      // The centre's views of the whole jurisdiction: centre staff, the legal-affairs reviewer, supervisors.
      { key: 'supervisionMap', path: '/supervision/map', icon: Grid, permissions: ['supervision.review'], built: true },
      {
        key: 'supervisionFigures',
        path: '/supervision/figures',
        icon: TrendCharts,
        permissions: ['supervision.review'],
        built: true,
      },
    ],
  },
  { key: 'campaign', path: '/campaign', icon: Aim, permissions: ['campaign.read'], built: false },
  { key: 'personnel', path: '/personnel', icon: Briefcase, permissions: ['personnel.read'], built: false },
  { key: 'pilot', path: '/pilot', icon: Flag, permissions: ['pilot.read'], built: false },
  {
    key: 'system',
    path: '/system',
    icon: Setting,
    built: false,
    children: [
      { key: 'users', path: '/system/users', icon: User, permissions: ['users.read'], built: false },
      { key: 'orgUnits', path: '/system/org-units', icon: OfficeBuilding, permissions: ['orgs.read'], built: true },
      { key: 'apiClients', path: '/system/api-clients', icon: Key, permissions: ['apiclients.manage'], built: true },
      { key: 'audit', path: '/system/audit', icon: Document, permissions: ['audit.read'], built: false },
      { key: 'calendar', path: '/system/calendar', icon: Calendar, permissions: ['calendar.manage'], built: true },
    ],
  },
]

/** Every leaf entry (the pages the router knows). */
export function leafModules(entries: ModuleEntry[] = MODULES): ModuleEntry[] {
  return entries.flatMap((entry) => (entry.children ? leafModules(entry.children) : [entry]))
}

/** Whether a user holding `granted` may see an entry. */
export function canSee(entry: ModuleEntry, granted: readonly string[]): boolean {
  return !entry.permissions || entry.permissions.some((p) => granted.includes(p))
}

/** The menu a user sees: entries their role may open; a group with no visible child disappears. */
export function visibleModules(granted: readonly string[]): ModuleEntry[] {
  return MODULES.filter((entry) => canSee(entry, granted))
    .map((entry) => (entry.children ? { ...entry, children: entry.children.filter((c) => canSee(c, granted)) } : entry))
    .filter((entry) => !entry.children || entry.children.length > 0)
}
