// The team's inbox: the queue in the API's order (priority queue first, then due time), with
// filters, cursor paging and the SLA clock (re-rendered every 30 s).

import { useEffect, useRef, useState } from 'preact/hooks';
import { api, describeError, paths, query } from '../api';
import {
  ErrorText,
  LiveRegion,
  PageHeading,
  PRIORITY_LABELS,
  PriorityTag,
  RetryableError,
  STATUS_LABELS,
  SlaClockView,
  Spinner,
  StatusBadge,
  TimeAgo,
  capitalize,
} from '../components/ui';
import { usePoll } from '../poll';
import { href } from '../router';
import { useDraft } from '../store';
import { useNow } from '../time';
import { PRIORITIES, STATUSES, TIERS, type Session, type StaffQueuePage, type StaffTicketSummary } from '../types';

const PAGE = 20;
const MAX_REFRESH = 100;

export interface InboxFilters {
  project_id: string;
  status: string;
  priority: string;
  tier: string;
  breached: '' | 'true' | 'false';
  assignee: '' | 'me' | 'none';
}

const noFilters: InboxFilters = { project_id: '', status: '', priority: '', tier: '', breached: '', assignee: '' };

interface QueueState {
  items: StaffTicketSummary[];
  hasMore: boolean;
  nextCursor: string | null;
  loading: boolean;
  error: string | null;
  loadingMore: boolean;
  moreError: string | null;
}

const initial: QueueState = {
  items: [],
  hasMore: false,
  nextCursor: null,
  loading: true,
  error: null,
  loadingMore: false,
  moreError: null,
};

function queueQuery(filters: InboxFilters, session: Session, extra: Record<string, string | number | null>): string {
  return (
    paths.staffQueue +
    query({
      ...extra,
      project_id: filters.project_id.trim(),
      status: filters.status,
      priority: filters.priority,
      tier: filters.tier,
      breached: filters.breached,
      assignee: filters.assignee === 'me' ? session.email : filters.assignee === 'none' ? 'none' : '',
    })
  );
}

export function Inbox({ session }: { session: Session }) {
  const [filters, setFilters] = useDraft<InboxFilters>('inbox:filters', () => noFilters);
  const [projectInput, setProjectInput] = useDraft<string>('inbox:project-input', () => filters.project_id);
  const [state, setState] = useState<QueueState>(initial);
  const [announcement, setAnnouncement] = useState('');
  const generation = useRef(0);
  const current = useRef(state);
  current.current = state;
  const now = useNow(30000);

  const load = async () => {
    const mine = ++generation.current;
    setState((s) => ({ ...s, loading: true, error: null, moreError: null }));
    try {
      const page = await api<StaffQueuePage>('GET', queueQuery(filters, session, { limit: PAGE }));
      if (mine !== generation.current) return;
      setState({ ...initial, items: page.data, hasMore: page.has_more, nextCursor: page.next_cursor, loading: false });
    } catch (error) {
      if (mine !== generation.current) return;
      setState((s) => ({ ...s, loading: false, error: describeError(error) }));
    }
  };

  useEffect(() => {
    void load();
  }, [filters.project_id, filters.status, filters.priority, filters.tier, filters.breached, filters.assignee]);

  const refreshable = !state.loading && !state.error && state.items.length <= MAX_REFRESH;
  usePoll(async () => {
    const mine = generation.current;
    const shown = current.current.items.length;
    const page = await api<StaffQueuePage>(
      'GET',
      queueQuery(filters, session, { limit: Math.min(MAX_REFRESH, Math.max(PAGE, shown)) }),
    );
    const s = current.current;
    if (mine !== generation.current || s.loadingMore) return;
    const known = new Set(s.items.map((t) => t.id));
    const added = page.data.filter((t) => !known.has(t.id)).length;
    if (added) setAnnouncement(`${added} new ticket${added === 1 ? '' : 's'} in the queue.`);
    setState((latest) =>
      latest.loadingMore ? latest : { ...latest, items: page.data, hasMore: page.has_more, nextCursor: page.next_cursor },
    );
  }, refreshable);

  const loadMore = async () => {
    if (!state.nextCursor) return;
    const mine = generation.current;
    setState((s) => ({ ...s, loadingMore: true, moreError: null }));
    try {
      const page = await api<StaffQueuePage>('GET', queueQuery(filters, session, { limit: PAGE, cursor: state.nextCursor }));
      if (mine !== generation.current) return;
      setState((s) => {
        const known = new Set(s.items.map((t) => t.id));
        return {
          ...s,
          items: [...s.items, ...page.data.filter((t) => !known.has(t.id))],
          hasMore: page.has_more,
          nextCursor: page.next_cursor,
          loadingMore: false,
        };
      });
    } catch (error) {
      if (mine !== generation.current) return;
      setState((s) => ({ ...s, loadingMore: false, moreError: describeError(error) }));
    }
  };

  const set = (change: Partial<InboxFilters>) => setFilters((f) => ({ ...f, ...change }));
  const filtered = Object.values(filters).some(Boolean);

  return (
    <div class="stack">
      <PageHeading title="Inbox" />
      <form
        class="filters card"
        aria-label="Filter the queue"
        onSubmit={(e) => {
          e.preventDefault();
          set({ project_id: projectInput.trim() });
        }}
      >
        <div class="field">
          <label for="inbox-project">Project id</label>
          <div class="input-with-button">
            <input
              id="inbox-project"
              type="text"
              placeholder="prj_..."
              autocomplete="off"
              spellcheck={false}
              value={projectInput}
              onInput={(e) => setProjectInput(e.currentTarget.value)}
            />
            <button type="submit">Apply</button>
          </div>
        </div>
        <div class="field">
          <label for="inbox-status">Status</label>
          <select id="inbox-status" value={filters.status} onChange={(e) => set({ status: e.currentTarget.value })}>
            <option value="">Any status</option>
            {STATUSES.map((s) => (
              <option key={s} value={s}>
                {STATUS_LABELS[s]}
              </option>
            ))}
          </select>
        </div>
        <div class="field">
          <label for="inbox-priority">Priority</label>
          <select id="inbox-priority" value={filters.priority} onChange={(e) => set({ priority: e.currentTarget.value })}>
            <option value="">Any priority</option>
            {PRIORITIES.map((p) => (
              <option key={p} value={p}>
                {PRIORITY_LABELS[p]}
              </option>
            ))}
          </select>
        </div>
        <div class="field">
          <label for="inbox-tier">Tier</label>
          <select id="inbox-tier" value={filters.tier} onChange={(e) => set({ tier: e.currentTarget.value })}>
            <option value="">Any tier</option>
            {TIERS.map((t) => (
              <option key={t} value={t}>
                {capitalize(t)}
              </option>
            ))}
          </select>
        </div>
        <div class="field">
          <label for="inbox-breached">SLA</label>
          <select
            id="inbox-breached"
            value={filters.breached}
            onChange={(e) => set({ breached: e.currentTarget.value as InboxFilters['breached'] })}
          >
            <option value="">Breached or not</option>
            <option value="true">Breached</option>
            <option value="false">Not breached</option>
          </select>
        </div>
        <div class="field">
          <label for="inbox-assignee">Assignee</label>
          <select
            id="inbox-assignee"
            value={filters.assignee}
            onChange={(e) => set({ assignee: e.currentTarget.value as InboxFilters['assignee'] })}
          >
            <option value="">Anyone</option>
            <option value="me">Me</option>
            <option value="none">Unassigned</option>
          </select>
        </div>
        {filtered ? (
          <div class="field field-end">
            <button
              type="button"
              class="secondary"
              onClick={() => {
                setProjectInput('');
                setFilters(noFilters);
              }}
            >
              Clear filters
            </button>
          </div>
        ) : null}
      </form>
      <LiveRegion message={announcement} testId="queue-updates" />
      {state.loading && state.items.length === 0 ? <Spinner label="Loading the queue…" /> : null}
      {state.error ? (
        <RetryableError message={state.error} onRetry={() => void load()} />
      ) : null}
      {!state.loading && !state.error && state.items.length === 0 ? (
        <p class="empty-state">{filtered ? 'No tickets match these filters.' : 'Nothing is waiting for the team.'}</p>
      ) : null}
      {state.items.length > 0 ? (
        <ol class="ticket-list queue" aria-label="Queue" aria-busy={state.loading ? 'true' : undefined}>
          {state.items.map((ticket) => (
            <li key={ticket.id} class={`ticket-row ${ticket.sla_breached ? 'is-breached' : ''}`} data-ticket-id={ticket.id}>
              <div class="row-title">
                <a href={href.staffTicket(ticket.id)} class="ticket-link">
                  {ticket.subject}
                </a>
                <span class="ticket-id">{ticket.id}</span>
              </div>
              <div class="row-meta">
                <SlaClockView ticket={ticket} now={now} />
                <StatusBadge status={ticket.status} />
                <PriorityTag priority={ticket.priority} />
                <span class="tier">
                  {capitalize(String(ticket.sla.tier))} tier{ticket.sla.priority_queue ? ' · priority queue' : ''}
                </span>
                {ticket.awaiting_team ? <span class="flag flag-awaiting">Awaiting team</span> : null}
              </div>
              <div class="row-meta muted">
                <span>
                  Project <code>{ticket.project_id}</code>
                </span>
                <span class="break">{ticket.assignee ? `Assigned to ${ticket.assignee}` : 'Unassigned'}</span>
                <span>
                  Last activity <TimeAgo iso={ticket.updated_at} now={now} />
                </span>
              </div>
            </li>
          ))}
        </ol>
      ) : null}
      {state.items.length > MAX_REFRESH ? (
        <p class="hint">
          Automatic refresh is paused while more than {MAX_REFRESH} tickets are shown.{' '}
          <button type="button" class="link" onClick={() => void load()}>
            Reload the first page
          </button>
        </p>
      ) : null}
      {state.hasMore && state.nextCursor ? (
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
