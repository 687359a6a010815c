import { isGroupId, type WebConfig } from '@confab/protocol';
import { useCallback, useEffect, useState, useSyncExternalStore } from 'react';
import { roomTakesGuests } from '../auth/guestSignIn.js';
import { type Auth, guestRoomOf, useAuth } from '../auth/useAuth.js';
import { loadWebConfig } from '../config/loadWebConfig.js';
import { MainScreen } from '../features/home/MainScreen.js';
import { t } from '../i18n/index.js';
import { useLocalMedia } from '../media/useLocalMedia.js';
import { Link } from './Link.js';
import { linkOptionsFor } from './linkOptions.js';
import { applyUpdate, subscribeUpdate, updateReady } from './registerServiceWorker.js';
import { type Route, useRoute } from './router.js';

type ConfigState =
  | { status: 'loading' }
  | { status: 'ready'; config: WebConfig }
  | { status: 'failed'; offline: boolean };

export function App() {
  const route = useRoute();
  const [state, setState] = useState<ConfigState>({ status: 'loading' });

  const load = useCallback(() => {
    const abort = new AbortController();
    setState({ status: 'loading' });
    loadWebConfig(abort.signal).then(
      (config) => setState({ status: 'ready', config }),
      () => {
        if (!abort.signal.aborted) setState({ status: 'failed', offline: !navigator.onLine });
      },
    );
    return () => abort.abort();
  }, []);
  useEffect(load, [load]);
  const update = useSyncExternalStore(subscribeUpdate, updateReady);

  return (
    <div className="app">
      <a className="skip-link" href="#main">
        {t('app.skipToContent')}
      </a>
      <header className="app-header">
        <Link href="/meet/" className="brand" aria-label={t('nav.home')}>
          <img src="/meet/icons/confab.svg" alt="" width={28} height={28} />
          <span>{t('app.name')}</span>
        </Link>
      </header>
      {update && (
        <div className="banner update" role="status">
          <span>{t('app.updateReady')}</span>
          <button type="button" className="secondary small" onClick={applyUpdate}>
            {t('app.reload')}
          </button>
        </div>
      )}
      <main id="main" className="app-main" tabIndex={-1}>
        {state.status === 'loading' && <p aria-live="polite">{t('app.loading')}</p>}
        {state.status === 'failed' && (
          <div role="alert" className="notice">
            <p>{state.offline ? t('app.offline') : t('app.configFailed')}</p>
            <button type="button" onClick={load}>
              {t('app.retry')}
            </button>
          </div>
        )}
        {state.status === 'ready' && <SignedInApp route={route} config={state.config} />}
      </main>
    </div>
  );
}

/** Everything past loading the config: sign-in, then the screen for the route. */
function SignedInApp({ route, config }: { route: Route; config: WebConfig }) {
  const auth = useAuth(config);
  if (auth.state.status === 'loading') return <p aria-live="polite">{t('auth.signingIn')}</p>;
  if (auth.state.status === 'guestRefused') {
    return (
      <section className="signed-out" aria-labelledby="guest-refused-title">
        <h1 id="guest-refused-title">
          {t('group.title', { name: auth.state.room.replace(/^group\//, '') })}
        </h1>
        <p role="alert">{t('guest.notOpen')}</p>
        <p>{t('guest.signInInstead')}</p>
        <button type="button" onClick={auth.signIn}>
          {t('auth.signIn')}
        </button>
      </section>
    );
  }
  if (auth.state.status === 'signedOut') {
    return (
      <section className="signed-out" aria-labelledby="signed-out-title">
        <h1 id="signed-out-title">{t('home.title')}</h1>
        <p>
          {auth.state.error
            ? t('auth.failed', { error: auth.state.error })
            : auth.state.ended
              ? t('auth.ended')
              : t('auth.signedOut')}
        </p>
        <button type="button" onClick={auth.signIn}>
          {t('auth.signIn')}
        </button>
      </section>
    );
  }
  const profile = auth.state.user.profile;
  const name =
    (profile.name as string | undefined) ??
    (profile.preferred_username as string | undefined) ??
    profile.sub;
  const guestRoom = guestRoomOf(auth.state.user);
  if (guestRoom !== undefined) {
    // A guest has its one room: any other address offers the way back to it.
    return (
      <>
        <UserBar name={name} auth={auth} guest />
        {route.name === 'room' && route.path === guestRoom ? (
          <SignedInHome
            config={config}
            auth={auth}
            name={name}
            userId={profile.sub}
            room={guestRoom}
          />
        ) : (
          <section aria-labelledby="guest-elsewhere-title">
            <h1 id="guest-elsewhere-title">{t('guest.onlyRoom')}</h1>
            <Link href={`/meet/r/${guestRoom}`}>
              {t('guest.backToRoom', { name: guestRoom.replace(/^group\//, '') })}
            </Link>
          </section>
        )}
      </>
    );
  }
  return (
    <>
      <UserBar name={name} auth={auth} />
      {route.name === 'home' || (route.name === 'room' && isGroupId(route.path)) ? (
        <SignedInHome
          config={config}
          auth={auth}
          name={name}
          userId={profile.sub}
          room={route.name === 'room' ? route.path : undefined}
        />
      ) : (
        <Screen route={route} config={config} />
      )}
    </>
  );
}

function SignedInHome({
  config,
  auth,
  name,
  userId,
  room,
}: {
  config: WebConfig;
  auth: Auth;
  name: string;
  userId: string;
  room: string | undefined;
}) {
  // A room link's `mute` and `auto` options (SPEC §3) set the devices and join at once.
  const [options] = useState(() => (room ? linkOptionsFor(`/meet/r/${room}`) : undefined));
  const media = useLocalMedia({
    micOn: !options?.micOff,
    camOn: !(options?.camOff || options?.auto === 'audio'),
  });
  return (
    <MainScreen
      config={config}
      auth={auth}
      media={media}
      name={name}
      userId={userId}
      room={room}
      autoJoin={!!options?.auto}
    />
  );
}

function UserBar({ name, auth, guest }: { name: string; auth: Auth; guest?: boolean }) {
  return (
    <div className="user-bar">
      <span className="user-name">
        {name}
        {guest ? <span className="mark"> {t('group.guest')}</span> : null}
      </span>
      <button type="button" className="secondary" onClick={auth.signOut}>
        {t('auth.signOut')}
      </button>
    </div>
  );
}

function Screen({ route, config }: { route: Route; config: WebConfig }) {
  switch (route.name) {
    case 'home':
      return (
        <section aria-labelledby="home-title">
          <h1 id="home-title">{t('home.title')}</h1>
          <p>{t('home.lead')}</p>
        </section>
      );
    case 'room': {
      const isPublic = roomTakesGuests(config, route.path);
      return (
        <section aria-labelledby="room-title">
          <h1 id="room-title">{t('room.title', { name: route.path })}</h1>
          <p>{t('room.lead')}</p>
          <p>{isPublic ? t('room.public') : t('room.private')}</p>
        </section>
      );
    }
    case 'notFound':
      return (
        <section aria-labelledby="nf-title">
          <h1 id="nf-title">{t('notFound.title')}</h1>
          <Link href="/meet/">{t('notFound.back')}</Link>
        </section>
      );
  }
}
