/** Every user-visible string of the web app, in English. Other languages add a file like it. */
export const en = {
  'app.name': 'Confab',
  'app.loading': 'Loading…',
  'app.skipToContent': 'Skip to content',
  'app.offline': 'You are offline',
  'app.configFailed': 'Confab could not load its settings from the server.',
  'app.retry': 'Try again',
  'nav.home': 'Home',
  'home.title': 'Video meetings for your organisation',
  'home.lead': 'Ring a colleague or meet in a group room. Sign-in arrives with the next release.',
  'room.title': 'Room {name}',
  'room.lead': 'Group rooms open here once calls are available on this server.',
  'room.public': 'Guests may join this room by link.',
  'room.private': 'Only members of the organisation may join this room.',
  'notFound.title': 'Page not found',
  'notFound.back': 'Back to the start page',
} as const;

export type MessageKey = keyof typeof en;
