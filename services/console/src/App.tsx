// The shell: session bootstrap (GET the session on load; the cookie is HttpOnly), one-time
// sign-in links, routing by kind of session, the header with Sign out.

import { useEffect, useRef, useState } from 'preact/hooks';
import { ApiError, api, describeError, onSignedOut, paths, setCsrfToken } from './api';
import { abortAllUploads } from './components/attachments';
import { PageHeading, Spinner, requestHeadingFocus } from './components/ui';
import { href, navigate, parseRoute, useRoute, type Route } from './router';
import { Inbox } from './screens/Inbox';
import { NewTicket } from './screens/NewTicket';
import { SignIn } from './screens/SignIn';
import { StaffTicketPage } from './screens/StaffTicketPage';
import { TicketList } from './screens/TicketList';
import { TicketPage } from './screens/TicketPage';
import { clearAll } from './store';
import type { Session } from './types';

type Auth =
  | { state: 'loading'; label: string }
  | { state: 'signed-out'; notice: string | null; linkError: string | null }
  | { state: 'signed-in'; session: Session };

const SESSION_ENDED = 'Your session ended; sign in again. Anything you were typing is kept.';

let lastIdentity: string | null = null;

function landing(session: Session): string {
  return session.kind === 'staff' ? href.inbox() : href.tickets();
}

/** Where a route belongs for this kind of session, or null when it is fine as it is. */
function redirectFor(route: Route, session: Session): string | null {
  if (session.kind === 'staff') {
    if (route.name === 'ticket') return href.staffTicket(route.id);
    if (route.name === 'tickets' || route.name === 'new-ticket' || route.name === 'home') return href.inbox();
    return null;
  }
  if (route.name === 'staff-ticket') return href.ticket(route.id);
  if (route.name === 'inbox' || route.name === 'home') return href.tickets();
  return null;
}

export function App() {
  const route = useRoute();
  const [auth, setAuth] = useState<Auth>({ state: 'loading', label: 'Loading…' });
  const usedLinks = useRef(new Set<string>());

  const establish = (session: Session) => {
    const identity = `${session.kind}|${session.email.toLowerCase()}|${session.project_id ?? ''}`;
    if (lastIdentity !== null && lastIdentity !== identity) {
      // Someone else signed in: nothing of the previous person's drafts stays.
      abortAllUploads();
      clearAll();
    }
    lastIdentity = identity;
    setCsrfToken(session.csrf_token);
    setAuth({ state: 'signed-in', session });
  };

  const signInWithLink = async (token: string) => {
    if (usedLinks.current.has(token)) return;
    usedLinks.current.add(token);
    // Take the one-time token out of the address bar and the history at once.
    history.replaceState(history.state, '', '#/');
    setAuth({ state: 'loading', label: 'Signing you in…' });
    try {
      const session = await api<Session>('POST', paths.sessions, { body: { link_token: token } });
      establish(session);
      requestHeadingFocus();
      navigate(landing(session), true);
    } catch (error) {
      setCsrfToken(null);
      setAuth({
        state: 'signed-out',
        notice: null,
        linkError: `This sign-in link did not work (it may have expired or been used already): ${describeError(error)}`,
      });
      navigate('#/', true);
    }
  };

  useEffect(() => {
    onSignedOut(() => {
      setCsrfToken(null);
      setAuth((current) =>
        current.state === 'signed-out' ? current : { state: 'signed-out', notice: SESSION_ENDED, linkError: null },
      );
    });
    const onHash = () => requestHeadingFocus();
    window.addEventListener('hashchange', onHash);

    const first = parseRoute(location.hash);
    if (first.name === 'link') {
      void signInWithLink(first.token);
    } else {
      api<Session>('GET', paths.session).then(establish, (error: unknown) => {
        const expired = error instanceof ApiError && error.status === 401 && error.code === 'session_expired';
        setAuth({
          state: 'signed-out',
          notice: expired ? 'Your session ended; sign in again.' : null,
          linkError: error instanceof ApiError && error.status === 401 ? null : describeError(error),
        });
      });
    }
    return () => window.removeEventListener('hashchange', onHash);
  }, []);

  // A sign-in link opened while the console is already open.
  useEffect(() => {
    if (route.name === 'link' && auth.state !== 'loading') void signInWithLink(route.token);
  }, [route]);

  const signOut = async () => {
    await api<void>('DELETE', paths.session).catch((error: unknown) => {
      if (!(error instanceof ApiError && error.status === 401)) throw error;
    });
    abortAllUploads();
    clearAll();
    lastIdentity = null;
    setCsrfToken(null);
    setAuth({ state: 'signed-out', notice: 'You are signed out.', linkError: null });
    navigate('#/', true);
  };

  const session = auth.state === 'signed-in' ? auth.session : null;
  const redirect = session ? redirectFor(route, session) : null;
  useEffect(() => {
    if (redirect) navigate(redirect, true);
  }, [redirect]);

  return (
    <>
      <a class="skip-link" href="#main" onClick={skipToMain}>
        Skip to main content
      </a>
      <Header session={session} route={route} onSignOut={signOut} />
      <main id="main" tabIndex={-1}>
        {auth.state === 'loading' ? (
          <div class="stack">
            <PageHeading title="Zumik Support" />
            <Spinner label={auth.label} />
          </div>
        ) : auth.state === 'signed-out' ? (
          <SignIn
            notice={auth.notice}
            linkError={auth.linkError}
            onSignedIn={(next) => {
              establish(next);
              const target = redirectFor(parseRoute(location.hash), next);
              requestHeadingFocus();
              if (target) navigate(target, true);
            }}
          />
        ) : redirect ? null : (
          <Screen route={route} session={auth.session} />
        )}
      </main>
    </>
  );
}

function skipToMain(event: MouseEvent) {
  // The hash is the router's: move focus without changing it.
  event.preventDefault();
  document.getElementById('main')?.focus();
}

function Screen({ route, session }: { route: Route; session: Session }) {
  switch (route.name) {
    case 'tickets':
      return <TicketList />;
    case 'new-ticket':
      return <NewTicket session={session} followUp={route.followUp} />;
    case 'ticket':
      return <TicketPage key={route.id} id={route.id} />;
    case 'inbox':
      return <Inbox session={session} />;
    case 'staff-ticket':
      return <StaffTicketPage key={route.id} id={route.id} session={session} />;
    default:
      return (
        <div class="stack">
          <PageHeading title="Page not found" />
          <p>
            There is nothing at this address. <a href={landing(session)}>Go to {session.kind === 'staff' ? 'the inbox' : 'your tickets'}</a>.
          </p>
        </div>
      );
  }
}

function Header({
  session,
  route,
  onSignOut,
}: {
  session: Session | null;
  route: Route;
  onSignOut: () => Promise<void>;
}) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const signOut = async () => {
    setBusy(true);
    setError(null);
    try {
      await onSignOut();
    } catch (caught) {
      setError(`Sign-out failed, you are still signed in: ${describeError(caught)}`);
    } finally {
      setBusy(false);
    }
  };
  const current = (names: Route['name'][]) => (names.includes(route.name) ? ('page' as const) : undefined);

  return (
    <header class="site-header">
      <div class="header-inner">
        <a class="brand" href={session ? landing(session) : '#/'}>
          <span aria-hidden="true" class="brand-mark">
            Z
          </span>
          Zumik Support
        </a>
        {session ? (
          <>
            <nav aria-label="Main">
              <ul class="nav-list">
                {session.kind === 'customer' ? (
                  <li>
                    <a href={href.tickets()} aria-current={current(['tickets', 'ticket', 'new-ticket'])}>
                      Support
                    </a>
                  </li>
                ) : (
                  <li>
                    <a href={href.inbox()} aria-current={current(['inbox', 'staff-ticket'])}>
                      Inbox
                    </a>
                  </li>
                )}
              </ul>
            </nav>
            <div class="account">
              <span class="account-who">
                <span class="break">{session.email}</span>
                <span class="muted">
                  {session.kind === 'staff'
                    ? ' · Zumik team'
                    : session.project_name
                      ? ` · ${session.project_name}${session.plan ? ` (${session.plan})` : ''}`
                      : ''}
                </span>
              </span>
              <button type="button" class="secondary small" onClick={() => void signOut()} disabled={busy}>
                {busy ? 'Signing out…' : 'Sign out'}
              </button>
            </div>
          </>
        ) : null}
      </div>
      {error ? (
        <p class="error header-error" role="alert">
          {error}
        </p>
      ) : null}
    </header>
  );
}
