// The team's view of a ticket: the whole thread with internal notes, history, reply (with an
// optional status), internal notes, assignment and priority.

import { useState } from 'preact/hooks';
import { ApiError, api, describeError, paths } from '../api';
import { ConfirmDialog } from '../components/ConfirmDialog';
import { ReplyForm } from '../components/ReplyForm';
import { TicketUnavailable } from '../components/TicketUnavailable';
import { Thread } from '../components/thread';
import {
  ErrorText,
  LiveRegion,
  Notice,
  PageHeading,
  PRIORITY_LABELS,
  PriorityTag,
  STATUS_LABELS,
  SlaClockView,
  StatusBadge,
  TimeAt,
  capitalize,
} from '../components/ui';
import { useLiveTicket } from '../liveTicket';
import { href } from '../router';
import { peekDraft, useDraft } from '../store';
import { useNow } from '../time';
import {
  PRIORITIES,
  STATUSES,
  type HistoryEntry,
  type Message,
  type Priority,
  type Session,
  type StaffTicket,
  type TicketStatus,
} from '../types';

function describeNew(added: Message[]): string {
  const customer = added.filter((m) => m.author === 'customer').length;
  const notes = added.filter((m) => m.internal).length;
  const replies = added.length - customer - notes;
  const parts: string[] = [];
  if (customer) parts.push(customer === 1 ? 'New message from the customer.' : `${customer} new messages from the customer.`);
  if (replies) parts.push(replies === 1 ? 'New reply from a teammate.' : `${replies} new replies from teammates.`);
  if (notes) parts.push(notes === 1 ? 'New internal note.' : `${notes} new internal notes.`);
  return parts.join(' ');
}

function historyText(entry: HistoryEntry): string {
  const show = (value: string | null) =>
    value === null || value === '' ? (entry.field === 'assignee' ? 'unassigned' : 'none') : value;
  return `${capitalize(entry.field)}: ${show(entry.old)} → ${show(entry.new)}`;
}

export function StaffTicketPage({ id, session }: { id: string; session: Session }) {
  const live = useLiveTicket<StaffTicket>(paths.staffTicket(id), `staff-ticket:${id}`, describeNew);
  const { ticket } = live;
  const now = useNow(30000);
  const [notice, setNotice] = useState<string | null>(null);
  const [triageError, setTriageError] = useState<string | null>(null);
  const [busy, setBusy] = useState<string | null>(null);
  const [replyStatus, setReplyStatus] = useDraft<'' | TicketStatus>(`staff-reply-status:${id}`, () => '');
  const [priorityChoice, setPriorityChoice] = useState<Priority | null>(null);
  const [statusChoice, setStatusChoice] = useState<TicketStatus | null>(null);
  const [confirmClose, setConfirmClose] = useState<null | (() => void)>(null);

  const patch = async (what: string, body: Record<string, unknown>, done: string) => {
    setBusy(what);
    setTriageError(null);
    setNotice(null);
    try {
      const next = await api<StaffTicket>('PATCH', paths.staffTicket(id), { body });
      live.replace(next);
      setNotice(done);
      if ('priority' in body) setPriorityChoice(null);
      if ('status' in body) setStatusChoice(null);
    } catch (error) {
      setTriageError(describeError(error));
      if (error instanceof ApiError && error.code === 'ticket_closed') void live.refresh().catch(() => undefined);
    } finally {
      setBusy(null);
    }
  };

  if (!ticket) {
    return (
      <TicketUnavailable
        back={<a href={href.inbox()}>← Inbox</a>}
        missing={<>There is no ticket <code>{id}</code>.</>}
        loadError={live.loadError}
        onRetry={() => void live.refresh().catch(() => undefined)}
      />
    );
  }

  const closed = ticket.status === 'closed';
  const mine = ticket.assignee !== null && ticket.assignee.toLowerCase() === session.email.toLowerCase();
  const priority = priorityChoice ?? ticket.priority;
  const status = statusChoice ?? ticket.status;
  const replyKey = `staff-reply:${id}`;
  const noteKey = `staff-note:${id}`;
  const hasDraft = (key: string) => Boolean(peekDraft<{ body: string }>(key)?.body.trim());
  const refreshIfClosed = (error: unknown) => {
    if (error instanceof ApiError && error.code === 'ticket_closed') void live.refresh().catch(() => undefined);
  };

  return (
    <div class="stack">
      <p class="breadcrumb">
        <a href={href.inbox()}>← Inbox</a>
      </p>
      <div class="ticket-head">
        <PageHeading title={ticket.subject} />
        <div class="row-meta">
          <StatusBadge status={ticket.status} />
          <PriorityTag priority={ticket.priority} />
          <SlaClockView ticket={ticket} now={now} />
          {ticket.awaiting_team ? <span class="flag flag-awaiting">Awaiting team</span> : null}
        </div>
      </div>
      {notice ? (
        <div role="status">
          <Notice tone="success">{notice}</Notice>
        </div>
      ) : null}
      {closed ? (
        <div class="notice notice-closed" data-testid="closed-notice">
          <p>
            <strong>This ticket is closed.</strong> Closed is final: no replies, notes or changes. The customer opens
            a new ticket to follow up.
          </p>
        </div>
      ) : null}

      <div class="split">
        <div class="stack split-main">
          <section aria-labelledby="thread-heading" class="stack-sm">
            <h2 id="thread-heading">Conversation</h2>
            <LiveRegion message={live.announcement} testId="ticket-updates" />
            <Thread
              messages={ticket.messages}
              view="staff"
              newIds={live.newIds}
              now={now}
              hrefFor={paths.staffFileContent}
            />
          </section>

          {!closed || hasDraft(replyKey) ? (
            <section aria-labelledby="staff-reply-heading" class="card stack-sm">
              <h2 id="staff-reply-heading">Reply to the customer</h2>
              <ReplyForm
                formKey={replyKey}
                idPrefix="staff-reply"
                label="Reply"
                hint="The customer sees this reply."
                submitLabel="Send reply"
                busyLabel="Sending…"
                uploadPath={paths.staffFiles(id)}
                readOnly={closed}
                extra={
                  closed ? null : (
                    <div class="field">
                      <label for="staff-reply-status">and set status to</label>
                      <select
                        id="staff-reply-status"
                        value={replyStatus}
                        onChange={(e) => setReplyStatus(e.currentTarget.value as '' | TicketStatus)}
                      >
                        <option value="">Keep the current status ({STATUS_LABELS[ticket.status]})</option>
                        {STATUSES.map((s) => (
                          <option key={s} value={s}>
                            {STATUS_LABELS[s]}
                          </option>
                        ))}
                      </select>
                    </div>
                  )
                }
                send={async ({ body, attachments, idempotencyKey }) => {
                  const payload: Record<string, unknown> = { body };
                  if (replyStatus) payload.status = replyStatus;
                  if (attachments.length) payload.attachments = attachments;
                  setNotice(null);
                  const next = await api<StaffTicket>('POST', paths.staffMessages(id), { body: payload, idempotencyKey });
                  live.replace(next);
                  setReplyStatus('');
                  setNotice(
                    next.status !== ticket.status
                      ? `Reply sent; status is now ${STATUS_LABELS[next.status]}.`
                      : 'Reply sent.',
                  );
                }}
                onFailure={refreshIfClosed}
              />
            </section>
          ) : null}

          {!closed || hasDraft(noteKey) ? (
            <section aria-labelledby="staff-note-heading" class="card card-internal stack-sm">
              <h2 id="staff-note-heading">Internal note</h2>
              <ReplyForm
                formKey={noteKey}
                idPrefix="staff-note"
                label="Note for the team"
                hint="Only the Zumik team sees internal notes."
                submitLabel="Add internal note"
                busyLabel="Adding…"
                uploadPath={paths.staffFiles(id)}
                readOnly={closed}
                send={async ({ body, attachments, idempotencyKey }) => {
                  const payload: Record<string, unknown> = { body, internal: true };
                  if (attachments.length) payload.attachments = attachments;
                  setNotice(null);
                  const next = await api<StaffTicket>('POST', paths.staffMessages(id), { body: payload, idempotencyKey });
                  live.replace(next);
                  setNotice('Internal note added.');
                }}
                onFailure={refreshIfClosed}
              />
            </section>
          ) : null}
        </div>

        <div class="stack split-side">
          <section aria-labelledby="details-heading" class="card stack-sm">
            <h2 id="details-heading">Details</h2>
            <dl class="facts">
              <div>
                <dt>Ticket id</dt>
                <dd>
                  <code>{ticket.id}</code>
                </dd>
              </div>
              <div>
                <dt>Project</dt>
                <dd>
                  <code>{ticket.project_id}</code>
                </dd>
              </div>
              <div>
                <dt>Contact email</dt>
                <dd class="break">{ticket.contact_email ?? '—'}</dd>
              </div>
              <div>
                <dt>Plan and tier</dt>
                <dd>
                  {capitalize(ticket.plan_tier)} plan, {capitalize(String(ticket.sla.tier))} tier
                  {ticket.sla.priority_queue ? ' (priority queue)' : ''}
                </dd>
              </div>
              <div>
                <dt>First response target</dt>
                <dd>{ticket.sla.first_response_target}</dd>
              </div>
              <div>
                <dt>First response</dt>
                <dd>
                  {ticket.first_responded_at ? (
                    <>
                      Answered <TimeAt iso={ticket.first_responded_at} now={now} />
                    </>
                  ) : ticket.first_response_due_at ? (
                    <>
                      Due <TimeAt iso={ticket.first_response_due_at} now={now} /> (
                      <SlaClockView ticket={ticket} now={now} />)
                    </>
                  ) : (
                    'No SLA'
                  )}
                </dd>
              </div>
              <div>
                <dt>Assignee</dt>
                <dd class="break">{ticket.assignee ?? 'Unassigned'}</dd>
              </div>
              <div>
                <dt>Opened</dt>
                <dd>
                  <TimeAt iso={ticket.created_at} now={now} />
                </dd>
              </div>
            </dl>
          </section>

          {!closed ? (
            <section aria-labelledby="triage-heading" class="card stack-sm">
              <h2 id="triage-heading">Triage</h2>
              <div class="actions">
                {!mine ? (
                  <button
                    type="button"
                    disabled={busy !== null}
                    onClick={() => void patch('assign', { assignee: session.email }, 'Assigned to you.')}
                  >
                    {busy === 'assign' ? 'Assigning…' : 'Assign to me'}
                  </button>
                ) : null}
                {ticket.assignee ? (
                  <button
                    type="button"
                    class="secondary"
                    disabled={busy !== null}
                    onClick={() => void patch('unassign', { assignee: null }, 'Unassigned.')}
                  >
                    {busy === 'unassign' ? 'Unassigning…' : 'Unassign'}
                  </button>
                ) : null}
              </div>
              <form
                class="inline-form"
                onSubmit={(e) => {
                  e.preventDefault();
                  if (priority !== ticket.priority) {
                    void patch('priority', { priority }, `Priority is now ${PRIORITY_LABELS[priority]}.`);
                  }
                }}
              >
                <div class="field">
                  <label for="staff-priority">Priority</label>
                  <select
                    id="staff-priority"
                    value={priority}
                    onChange={(e) => setPriorityChoice(e.currentTarget.value as Priority)}
                  >
                    {PRIORITIES.map((p) => (
                      <option key={p} value={p}>
                        {PRIORITY_LABELS[p]}
                      </option>
                    ))}
                  </select>
                </div>
                <button type="submit" disabled={busy !== null || priority === ticket.priority}>
                  {busy === 'priority' ? 'Saving…' : 'Change priority'}
                </button>
              </form>
              <form
                class="inline-form"
                onSubmit={(e) => {
                  e.preventDefault();
                  if (status === ticket.status) return;
                  const run = () => void patch('status', { status }, `Status is now ${STATUS_LABELS[status]}.`);
                  if (status === 'closed') setConfirmClose(() => run);
                  else run();
                }}
              >
                <div class="field">
                  <label for="staff-status">Status</label>
                  <select
                    id="staff-status"
                    value={status}
                    onChange={(e) => setStatusChoice(e.currentTarget.value as TicketStatus)}
                  >
                    {STATUSES.map((s) => (
                      <option key={s} value={s}>
                        {STATUS_LABELS[s]}
                      </option>
                    ))}
                  </select>
                </div>
                <button type="submit" disabled={busy !== null || status === ticket.status}>
                  {busy === 'status' ? 'Saving…' : 'Change status'}
                </button>
              </form>
              <ErrorText message={triageError} />
            </section>
          ) : null}

          <section aria-labelledby="history-heading" class="card stack-sm">
            <h2 id="history-heading">History</h2>
            {ticket.history.length === 0 ? (
              <p class="muted">No changes yet.</p>
            ) : (
              <ol class="history">
                {ticket.history.map((entry, index) => (
                  <li key={`${entry.at}-${index}`}>
                    <span>{historyText(entry)}</span>{' '}
                    <span class="muted">
                      by <span class="break">{entry.by}</span>, <TimeAt iso={entry.at} now={now} />
                    </span>
                  </li>
                ))}
              </ol>
            )}
          </section>
        </div>
      </div>

      <ConfirmDialog
        open={confirmClose !== null}
        title="Close this ticket?"
        confirmLabel="Yes, close it"
        cancelLabel="Keep it open"
        onCancel={() => setConfirmClose(null)}
        onConfirm={() => {
          const run = confirmClose;
          setConfirmClose(null);
          run?.();
        }}
      >
        <p>Closing is final: nobody can reply to, note on or reopen a closed ticket.</p>
      </ConfirmDialog>
    </div>
  );
}
