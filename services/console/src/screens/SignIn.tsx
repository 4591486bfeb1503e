// Sign in: customer (API key + email) or Zumik team (staff token). Secrets stay in this
// component's state only and are gone once it unmounts.

import { useEffect, useRef, useState } from 'preact/hooks';
import { ApiError, api, describeError, paths } from '../api';
import { errorParam, invalidProps } from '../components/form';
import { ErrorText, Notice, PageHeading } from '../components/ui';
import type { Session } from '../types';

type Mode = 'customer' | 'staff';

export function SignIn({
  notice,
  linkError,
  onSignedIn,
}: {
  notice: string | null;
  linkError: string | null;
  onSignedIn: (session: Session) => void;
}) {
  const [mode, setMode] = useState<Mode>('customer');
  const [apiKey, setApiKey] = useState('');
  const [email, setEmail] = useState('');
  const [staffToken, setStaffToken] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [localErrors, setLocalErrors] = useState<Record<string, string>>({});
  const [waitUntil, setWaitUntil] = useState<number | null>(null);
  const [, setTick] = useState(0);
  const tabs = useRef<Record<Mode, HTMLButtonElement | null>>({ customer: null, staff: null });

  const waiting = waitUntil !== null && waitUntil > Date.now();
  useEffect(() => {
    if (waitUntil === null) return;
    const timer = window.setInterval(() => {
      if (Date.now() >= waitUntil) setWaitUntil(null);
      setTick((t) => t + 1);
    }, 1000);
    return () => window.clearInterval(timer);
  }, [waitUntil]);

  const select = (next: Mode, focus: boolean) => {
    setMode(next);
    setError(null);
    setLocalErrors({});
    if (focus) tabs.current[next]?.focus();
  };

  const onTabKey = (event: KeyboardEvent) => {
    const order: Mode[] = ['customer', 'staff'];
    const index = order.indexOf(mode);
    let next: Mode | null = null;
    if (event.key === 'ArrowRight' || event.key === 'ArrowDown') next = order[(index + 1) % order.length] ?? null;
    else if (event.key === 'ArrowLeft' || event.key === 'ArrowUp') next = order[(index + order.length - 1) % order.length] ?? null;
    else if (event.key === 'Home') next = 'customer';
    else if (event.key === 'End') next = 'staff';
    if (next) {
      event.preventDefault();
      select(next, true);
    }
  };

  const submit = async (event: Event) => {
    event.preventDefault();
    if (busy || waiting) return;
    const problems: Record<string, string> = {};
    let body: Record<string, string>;
    if (mode === 'customer') {
      if (!apiKey.trim()) problems.api_key = 'Enter your project API key (zsk_...).';
      if (!email.trim()) problems.email = 'Enter your email address.';
      else if (!/^[^\s@]+@[^\s@]+$/.test(email.trim())) problems.email = 'Enter an email address like dev@example.com.';
      body = { api_key: apiKey.trim(), email: email.trim() };
    } else {
      if (!staffToken.trim()) problems.staff_token = 'Enter your staff token (zst_...).';
      body = { staff_token: staffToken.trim() };
    }
    setLocalErrors(problems);
    if (Object.keys(problems).length) {
      setError(null);
      const first = Object.keys(problems)[0];
      document.getElementById(`signin-${first?.replace('_', '-')}`)?.focus();
      return;
    }
    setBusy(true);
    setError(null);
    try {
      const session = await api<Session>('POST', paths.sessions, { body });
      onSignedIn(session);
    } catch (caught) {
      setError(caught);
      if (caught instanceof ApiError && caught.status === 429) {
        setWaitUntil(Date.now() + (caught.retryAfter ?? 30) * 1000);
      }
      setBusy(false);
    }
  };

  const param = errorParam(error);
  const message = error ? describeError(error) : null;
  const fieldError = (name: string): string | null => localErrors[name] ?? (param === name ? message : null);
  const secondsLeft = waiting && waitUntil ? Math.ceil((waitUntil - Date.now()) / 1000) : 0;

  const apiKeyError = fieldError('api_key');
  const emailError = fieldError('email');
  const tokenError = fieldError('staff_token');

  return (
    <div class="signin">
      <PageHeading title="Sign in to Zumik Support" />
      {notice ? (
        <div role="status">
          <Notice tone="warning">{notice}</Notice>
        </div>
      ) : null}
      {linkError ? (
        <div role="alert">
          <Notice tone="warning">{linkError}</Notice>
        </div>
      ) : null}
      <div class="card signin-card">
        <div role="tablist" aria-label="Sign in as" class="tabs">
          {(['customer', 'staff'] as const).map((tab) => (
            <button
              key={tab}
              ref={(el) => {
                tabs.current[tab] = el;
              }}
              type="button"
              role="tab"
              id={`signin-tab-${tab}`}
              aria-selected={mode === tab}
              aria-controls={`signin-panel-${tab}`}
              tabIndex={mode === tab ? 0 : -1}
              class="tab"
              onClick={() => select(tab, false)}
              onKeyDown={onTabKey}
            >
              {tab === 'customer' ? 'Customer' : 'Zumik team'}
            </button>
          ))}
        </div>
        <div role="tabpanel" id={`signin-panel-${mode}`} aria-labelledby={`signin-tab-${mode}`}>
          <form noValidate onSubmit={submit} class="form">
            {mode === 'customer' ? (
              <>
                <div class="field">
                  <label for="signin-api-key">API key</label>
                  <input
                    id="signin-api-key"
                    name="api_key"
                    type="password"
                    autocomplete="off"
                    spellcheck={false}
                    autoCapitalize="off"
                    required
                    value={apiKey}
                    onInput={(e) => setApiKey(e.currentTarget.value)}
                    {...invalidProps(apiKeyError, 'signin-api-key-error', 'signin-api-key-hint')}
                  />
                  <p id="signin-api-key-hint" class="hint">
                    Your project's secret key, starting with <code>zsk_</code>. It is sent once to start a session
                    and never stored by this page.
                  </p>
                  {apiKeyError ? (
                    <p id="signin-api-key-error" class="field-error">
                      {apiKeyError}
                    </p>
                  ) : null}
                </div>
                <div class="field">
                  <label for="signin-email">Your email</label>
                  <input
                    id="signin-email"
                    name="email"
                    type="email"
                    autocomplete="email"
                    autoCapitalize="off"
                    spellcheck={false}
                    required
                    value={email}
                    onInput={(e) => setEmail(e.currentTarget.value)}
                    {...invalidProps(emailError, 'signin-email-error')}
                  />
                  {emailError ? (
                    <p id="signin-email-error" class="field-error">
                      {emailError}
                    </p>
                  ) : null}
                </div>
              </>
            ) : (
              <div class="field">
                <label for="signin-staff-token">Staff token</label>
                <input
                  id="signin-staff-token"
                  name="staff_token"
                  type="password"
                  autocomplete="off"
                  spellcheck={false}
                  autoCapitalize="off"
                  required
                  value={staffToken}
                  onInput={(e) => setStaffToken(e.currentTarget.value)}
                  {...invalidProps(tokenError, 'signin-staff-token-error', 'signin-staff-token-hint')}
                />
                <p id="signin-staff-token-hint" class="hint">
                  Your Zumik team token, starting with <code>zst_</code>.
                </p>
                {tokenError ? (
                  <p id="signin-staff-token-error" class="field-error">
                    {tokenError}
                  </p>
                ) : null}
              </div>
            )}
            <div class="actions">
              <button type="submit" class="primary" disabled={busy || waiting} aria-describedby="signin-error">
                {busy ? 'Signing in…' : 'Sign in'}
              </button>
              {waiting ? <span class="muted">You can try again in {secondsLeft} s.</span> : null}
            </div>
            <ErrorText id="signin-error" message={Object.keys(localErrors).length ? 'Check the fields marked above.' : message} />
          </form>
        </div>
      </div>
    </div>
  );
}
