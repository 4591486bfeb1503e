// The customer's Support tab: their tickets, newest first, one API call per page.

import { useEffect, useRef, useState } from 'preact/hooks';
import { api, describeError, paths, query } from '../api';
import { ErrorText, LiveRegion, PageHeading, PriorityTag, RetryableError, Spinner, StatusBadge, TimeAgo, capitalize } from '../components/ui';
import { usePoll } from '../poll';
import { href } from '../router';
import { useDraft } from '../store';
import { useNow } from '../time';
import { STATUSES, type TicketList as TicketListPage, type TicketSummary } from '../types';
import { STATUS_LABELS } from '../components/ui';

const PAGE = 20;

interface ListState {
  items: TicketSummary[];
  hasMore: boolean;
  loading: boolean;
  error: string | null;
  loadingMore: boolean;
  moreError: string | null;
}

const initial: ListState = { items: [], hasMore: false, loading: true, error: null, loadingMore: false, moreError: null };

export function TicketList() {
  const [status, setStatus] = useDraft<string>('tickets:status', () => '');
  const [state, setState] = useState<ListState>(initial);
  const [announcement, setAnnouncement] = useState('');
  const generation = useRef(0);
  const now = useNow(30000);

  const load = async () => {
    const mine = ++generation.current;
    setState((s) => ({ ...s, loading: true, error: null, moreError: null }));
    try {
      const page = await api<TicketListPage>('GET', paths.tickets + query({ limit: PAGE, status }));
      if (mine !== generation.current) return;
      setState({ ...initial, items: page.data, hasMore: page.has_more, loading: false });
    } catch (error) {
      if (mine !== generation.current) return;
      setState((s) => ({ ...s, loading: false, error: describeError(error) }));
    }
  };

  useEffect(() => {
    void load();
  }, [status]);

  // Keep the first page fresh while only the first page is shown.
  const current = useRef(state);
  current.current = state;
  usePoll(async () => {
    const mine = generation.current;
    const page = await api<TicketListPage>('GET', paths.tickets + query({ limit: PAGE, status }));
    const s = current.current;
    if (mine !== generation.current || s.loadingMore || s.items.length > PAGE) return;
    const before = new Map(s.items.map((t) => [t.id, t]));
    const added = page.data.filter((t) => !before.has(t.id)).length;
    const changed = page.data.filter((t) => {
      const old = before.get(t.id);
      return old !== undefined && old.updated_at !== t.updated_at;
    }).length;
    const parts: string[] = [];
    if (added) parts.push(`${added} new ticket${added === 1 ? '' : 's'}`);
    if (changed) parts.push(`${changed} ticket${changed === 1 ? '' : 's'} updated`);
    if (parts.length) setAnnouncement(`${parts.join(', ')}.`);
    setState((latest) => (latest.loadingMore ? latest : { ...latest, items: page.data, hasMore: page.has_more }));
  }, !state.loading && !state.error && state.items.length <= PAGE);

  const loadMore = async () => {
    const last = state.items[state.items.length - 1];
    if (!last) return;
    const mine = generation.current;
    setState((s) => ({ ...s, loadingMore: true, moreError: null }));
    try {
      const page = await api<TicketListPage>(
        'GET',
        paths.tickets + query({ limit: PAGE, status, starting_after: last.id }),
      );
      if (mine !== generation.current) return;
      setState((s) => {
        const known = new Set(s.items.map((t) => t.id));
        return {
          ...s,
          items: [...s.items, ...page.data.filter((t) => !known.has(t.id))],
          hasMore: page.has_more,
          loadingMore: false,
        };
      });
    } catch (error) {
      if (mine !== generation.current) return;
      setState((s) => ({ ...s, loadingMore: false, moreError: describeError(error) }));
    }
  };

  return (
    <div class="stack">
      <div class="page-head">
        <PageHeading title="Support tickets" />
        <a class="button primary" href={href.newTicket()}>
          New ticket
        </a>
      </div>
      <form class="filters" onSubmit={(e) => e.preventDefault()} aria-label="Filter tickets">
        <div class="field inline">
          <label for="tickets-status">Status</label>
          <select id="tickets-status" value={status} onChange={(e) => setStatus(e.currentTarget.value)}>
            <option value="">All statuses</option>
            {STATUSES.map((s) => (
              <option key={s} value={s}>
                {STATUS_LABELS[s]}
              </option>
            ))}
          </select>
        </div>
      </form>
      <LiveRegion message={announcement} />
      {state.loading && state.items.length === 0 ? <Spinner label="Loading your tickets…" /> : null}
      {state.error ? (
        <RetryableError message={state.error} onRetry={() => void load()} />
      ) : null}
      {!state.loading && !state.error && state.items.length === 0 ? (
        <p class="empty-state">
          {status ? `No ${STATUS_LABELS[status as keyof typeof STATUS_LABELS]?.toLowerCase() ?? status} tickets.` : 'No tickets yet.'}{' '}
          <a href={href.newTicket()}>Open a ticket</a> when you need help.
        </p>
      ) : null}
      {state.items.length > 0 ? (
        <ol class="ticket-list" aria-label="Tickets" aria-busy={state.loading ? 'true' : undefined}>
          {state.items.map((ticket) => (
            <li key={ticket.id} class="ticket-row" data-ticket-id={ticket.id}>
              <div class="row-title">
                <a href={href.ticket(ticket.id)} class="ticket-link">
                  {ticket.subject}
                </a>
                <span class="ticket-id">{ticket.id}</span>
              </div>
              <div class="row-meta">
                <StatusBadge status={ticket.status} />
                <PriorityTag priority={ticket.priority} />
                <span class="tier">{capitalize(String(ticket.sla.tier))} tier</span>
                <span class="muted">
                  {ticket.message_count} message{ticket.message_count === 1 ? '' : 's'}
                </span>
                <span class="muted">
                  Last activity <TimeAgo iso={ticket.updated_at} now={now} />
                </span>
              </div>
            </li>
          ))}
        </ol>
      ) : null}
      {state.hasMore ? (
        <div class="stack-sm">
          <button type="button" onClick={() => void loadMore()} disabled={state.loadingMore}>
            {state.loadingMore ? 'Loading…' : 'Load more'}
          </button>
          <ErrorText message={state.moreError} />
        </div>
      ) : null}
    </div>
  );
}
