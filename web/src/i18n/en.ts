// English: the console's second language. Keep the keys identical to zh-CN.ts.
import type zhCN from './zh-CN'

const en: typeof zhCN = {
  app: {
    title: 'Yongzhou City Governance Platform',
    subtitle: 'City-scale social governance pilot',
  },
  login: {
    title: 'Sign in',
    username: 'Username',
    password: 'Password',
    submit: 'Sign in',
    usernameRequired: 'Enter your username',
    passwordRequired: 'Enter your password',
  },
  header: {
    role: 'Role',
    division: 'Jurisdiction',
    language: 'Language',
    logout: 'Sign out',
    loggedOut: 'Signed out',
  },
  nav: {
    dashboard: 'Overview',
    grids: 'Grids',
    matters: 'Matters',
    disputes: 'Disputes',
    dispatch: 'Rapid response',
    volunteers: 'Volunteers',
    supervision: 'Enforcement supervision',
    campaign: 'Anti-organised-crime campaign',
    personnel: 'Workforce',
    pilot: 'Pilot',
    system: 'System',
    users: 'Users',
    audit: 'Audit log',
  },
  construction: {
    title: 'Under construction',
    body: 'The "{module}" module is under construction; it has no data yet.',
  },
  geo: {
    tree: 'Divisions',
    map: 'Jurisdiction map',
    schematic: 'Schematic boundaries: some outlines are generated and only indicative, not real borders',
    empty: 'No boundaries below this division',
    regions: '{count} regions',
    hint: 'Click a region on the map or a division in the tree to drill down',
    selected: 'Selected',
    code: 'Code',
    name: 'Name',
    level: 'Level',
    children: 'Children',
    generated: 'Schematic',
    levels: {
      city: 'City',
      county: 'County / district',
      township: 'Township / street',
      village: 'Village / community',
      grid: 'Grid',
    },
  },
  realtime: {
    live: 'Live',
    offline: 'Live connection lost',
  },
  errors: {
    network: 'Network error, please try again',
    sessionExpired: 'Your session has ended, please sign in again',
    loadFailed: 'Could not load: {message}',
  },
}

export default en
