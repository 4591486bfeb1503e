// A customer's ticket: header, SLA snapshot, thread, reply, resolve/close; closed is final.

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
  PriorityTag,
  StatusBadge,
  TimeAt,
  capitalize,
} from '../components/ui';
import { useLiveTicket } from '../liveTicket';
import { href } from '../router';
import { peekDraft, takeFlash } from '../store';
import { formatDuration, parseTime, useNow } from '../time';
import type { Message, Ticket, TicketStatus, TicketSummary } from '../types';
import { replyDraftKey, ticketCacheKey } from './NewTicket';

function describeNew(added: Message[]): string {
  const fromSupport = added.filter((m) => m.author === 'support').length;
  if (fromSupport === added.length) {
    return fromSupport === 1 ? 'New reply from Zumik support.' : `${fromSupport} new replies from Zumik support.`;
  }
  return added.length === 1 ? 'New message in this ticket.' : `${added.length} new messages in this ticket.`;
}

export function SlaFacts({ ticket, now }: { ticket: TicketSummary; now: number }) {
  const due = parseTime(ticket.first_response_due_at);
  const breached = !ticket.first_responded_at && (ticket.sla_breached || (due !== null && due <= now));
  return (
    <dl class="facts">
      <div>
        <dt>Support tier</dt>
        <dd>
          {capitalize(String(ticket.sla.tier))}
          {ticket.sla.priority_queue ? <span class="muted"> (priority queue)</span> : null}
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
          ) : ticket.first_response_due_at && due !== null ? (
            <>
              Due <TimeAt iso={ticket.first_response_due_at} now={now} />
              {due > now ? <span class="muted"> (in {formatDuration(due - now)})</span> : null}
            </>
          ) : (
            'No guaranteed response time'
          )}
          {breached ? (
            <span class="flag flag-breached" data-testid="sla-breached">
              <span aria-hidden="true">⚠ </span>SLA breached
            </span>
          ) : null}
        </dd>
      </div>
      <div>
        <dt>Opened</dt>
        <dd>
          <TimeAt iso={ticket.created_at} now={now} />
        </dd>
      </div>
      <div>
        <dt>Ticket id</dt>
        <dd>
          <code>{ticket.id}</code>
        </dd>
      </div>
      {ticket.contact_email ? (
        <div>
          <dt>Contact email</dt>
          <dd class="break">{ticket.contact_email}</dd>
        </div>
      ) : null}
    </dl>
  );
}

const STATUS_HELP: Partial<Record<TicketStatus, string>> = {
  pending: 'Pending: the Zumik team is waiting for your answer. Replying reopens the ticket.',
  resolved: 'Resolved: reply if the problem is back (this reopens the ticket), or close it if you are done.',
};

export function TicketPage({ id }: { id: string }) {
  const live = useLiveTicket<Ticket>(paths.ticket(id), ticketCacheKey(id), describeNew);
  const { ticket } = live;
  const now = useNow(30000);
  const [notice, setNotice] = useState<string | null>(() => takeFlash(id));
  const [actionError, setActionError] = useState<string | null>(null);
  const [busy, setBusy] = useState<TicketStatus | null>(null);
  const [confirmClose, setConfirmClose] = useState(false);

  const setStatus = async (status: TicketStatus) => {
    setBusy(status);
    setActionError(null);
    setNotice(null);
    try {
      const next = await api<Ticket>('PATCH', paths.ticket(id), { body: { status } });
      live.replace(next);
      setNotice(
        status === 'resolved'
          ? 'Marked resolved. Reply at any time to reopen it.'
          : status === 'closed'
            ? 'Ticket closed.'
            : `Status is now ${status}.`,
      );
    } catch (error) {
      setActionError(describeError(error));
      if (error instanceof ApiError && error.code === 'ticket_closed') void live.refresh().catch(() => undefined);
    } finally {
      setBusy(null);
    }
  };

  if (!ticket) {
    return (
      <TicketUnavailable
        back={<a href={href.tickets()}>← All tickets</a>}
        missing={<>There is no ticket <code>{id}</code> in this project.</>}
        loadError={live.loadError}
        onRetry={() => void live.refresh().catch(() => undefined)}
      />
    );
  }

  const closed = ticket.status === 'closed';
  const replyKey = replyDraftKey(id);
  const unsent = (peekDraft<{ body: string }>(replyKey)?.body ?? '').trim();

  return (
    <div class="stack">
      <p class="breadcrumb">
        <a href={href.tickets()}>← All tickets</a>
      </p>
      <div class="ticket-head">
        <PageHeading title={ticket.subject} />
        <div class="row-meta">
          <StatusBadge status={ticket.status} />
          <PriorityTag priority={ticket.priority} />
          <span class="muted">
            {ticket.message_count} message{ticket.message_count === 1 ? '' : 's'}
          </span>
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
            <strong>This ticket is closed.</strong> Closed tickets are final: they can't be reopened or replied to.
            If you still need help, open a new ticket that refers to this one.
          </p>
          <p>
            <a class="button primary" href={href.newTicket(id)}>
              Open a new ticket
            </a>
          </p>
          {unsent ? <p class="hint">Your unsent reply, kept below, is copied into the new ticket.</p> : null}
        </div>
      ) : STATUS_HELP[ticket.status] ? (
        <p class="hint">{STATUS_HELP[ticket.status]}</p>
      ) : null}

      <section aria-labelledby="sla-heading" class="card">
        <h2 id="sla-heading">Service level</h2>
        <SlaFacts ticket={ticket} now={now} />
      </section>

      <section aria-labelledby="thread-heading" class="stack-sm">
        <h2 id="thread-heading">Conversation</h2>
        <LiveRegion message={live.announcement} testId="ticket-updates" />
        <Thread
          messages={ticket.messages}
          view="customer"
          newIds={live.newIds}
          now={now}
          hrefFor={paths.fileContent}
        />
      </section>

      {!closed || unsent ? (
        <section aria-labelledby="reply-heading" class="card stack-sm">
          <h2 id="reply-heading">{closed ? 'Your unsent reply' : 'Reply'}</h2>
          {ticket.status === 'pending' || ticket.status === 'resolved' ? (
            <p class="hint">Replying reopens this ticket.</p>
          ) : null}
          <ReplyForm
            formKey={replyKey}
            idPrefix="reply"
            label="Your reply"
            submitLabel="Send reply"
            busyLabel="Sending…"
            uploadPath={paths.files}
            readOnly={closed}
            send={async ({ body, attachments, idempotencyKey }) => {
              const before = ticket.status;
              const payload: Record<string, unknown> = { body };
              if (attachments.length) payload.attachments = attachments;
              setNotice(null);
              const next = await api<Ticket>('POST', paths.ticketMessages(id), { body: payload, idempotencyKey });
              live.replace(next);
              setNotice(
                (before === 'pending' || before === 'resolved') && next.status === 'open'
                  ? 'Your reply reopened this ticket.'
                  : 'Reply sent.',
              );
            }}
            onFailure={(error) => {
              if (error instanceof ApiError && error.code === 'ticket_closed') void live.refresh().catch(() => undefined);
            }}
          />
        </section>
      ) : null}

      {!closed ? (
        <section aria-labelledby="actions-heading" class="stack-sm">
          <h2 id="actions-heading">Ticket status</h2>
          <div class="actions">
            {ticket.status === 'resolved' ? (
              <button type="button" disabled={busy !== null} onClick={() => void setStatus('open')}>
                {busy === 'open' ? 'Reopening…' : 'Reopen ticket'}
              </button>
            ) : (
              <button type="button" disabled={busy !== null} onClick={() => void setStatus('resolved')}>
                {busy === 'resolved' ? 'Saving…' : 'Mark resolved'}
              </button>
            )}
            <button type="button" class="danger" disabled={busy !== null} onClick={() => setConfirmClose(true)}>
              {busy === 'closed' ? 'Closing…' : 'Close ticket'}
            </button>
          </div>
          <ErrorText message={actionError} />
        </section>
      ) : null}

      <ConfirmDialog
        open={confirmClose}
        title="Close this ticket?"
        confirmLabel="Yes, close it"
        cancelLabel="Keep it open"
        onCancel={() => setConfirmClose(false)}
        onConfirm={() => {
          setConfirmClose(false);
          void setStatus('closed');
        }}
      >
        <p>
          Closing is final: nobody can reply to or reopen a closed ticket. If you need help again later, you will
          open a new ticket.
        </p>
      </ConfirmDialog>
    </div>
  );
}
