// New ticket: subject, body, priority, contact email, attachments. One Idempotency-Key per
// submission, kept until it succeeds, so retrying after a network failure never makes two tickets.

import { useEffect, useState } from 'preact/hooks';
import { ApiError, NetworkError, api, describeError, newIdempotencyKey, paths } from '../api';
import { AttachmentPicker, forgetUploads, uploadsKey, uploadsReady, type UploadItem } from '../components/attachments';
import { errorParam, invalidProps } from '../components/form';
import { ErrorText, Notice, PageHeading, PRIORITY_LABELS } from '../components/ui';
import { href, navigate } from '../router';
import { clearDraft, peekDraft, readDraft, setFlash, useDraft, writeDraft } from '../store';
import { PRIORITIES, type Priority, type Session, type Ticket } from '../types';

export const SUBJECT_MAX = 200;
export const BODY_MAX = 20000;
const FORM = 'new-ticket';

interface NewTicketDraft {
  subject: string;
  body: string;
  priority: Priority;
  contactEmail: string;
  idempotencyKey: string | null;
  followUp: string | null;
}

export function replyDraftKey(ticketId: string): string {
  return `reply:${ticketId}`;
}

export function ticketCacheKey(ticketId: string): string {
  return `ticket:${ticketId}`;
}

function followUpSubject(subject: string): string {
  const text = `Follow-up to ${subject}`;
  return text.length > SUBJECT_MAX ? `${text.slice(0, SUBJECT_MAX - 1)}…` : text;
}

function applyFollowUp(id: string, subject: string | null): void {
  const unsent = peekDraft<{ body: string }>(replyDraftKey(id))?.body.trim() ?? '';
  writeDraft<NewTicketDraft>(FORM, (draft) => {
    const reference = `This follows up on ticket ${id}, which is closed.`;
    const parts = [reference, unsent, draft.body.trim()].filter(Boolean);
    return {
      ...draft,
      followUp: id,
      subject: draft.subject.trim() ? draft.subject : followUpSubject(subject ?? `ticket ${id}`),
      body: draft.body.includes(id) ? draft.body : `${parts.join('\n\n')}\n`,
      idempotencyKey: null,
    };
  });
}

export function NewTicket({ session, followUp }: { session: Session; followUp: string | null }) {
  const init = (): NewTicketDraft => ({
    subject: '',
    body: '',
    priority: 'normal',
    contactEmail: session.email,
    idempotencyKey: null,
    followUp: null,
  });
  const [draft, setDraft] = useDraft<NewTicketDraft>(FORM, init);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [localErrors, setLocalErrors] = useState<Record<string, string>>({});
  const [note, setNote] = useState<string | null>(null);

  useEffect(() => {
    if (!followUp || readDraft(FORM, init).followUp === followUp) return;
    const cached = peekDraft<Ticket>(ticketCacheKey(followUp));
    if (cached) {
      applyFollowUp(followUp, cached.subject);
      return;
    }
    let live = true;
    api<Ticket>('GET', paths.ticket(followUp)).then(
      (ticket) => live && applyFollowUp(followUp, ticket.subject),
      () => live && applyFollowUp(followUp, null),
    );
    return () => {
      live = false;
    };
  }, [followUp]);

  const update = (change: Partial<NewTicketDraft>) => setDraft((d) => ({ ...d, ...change }));

  const submit = async (event: Event) => {
    event.preventDefault();
    if (busy) return;
    // The store's values, not this render's: a click may land before the re-render an upload's
    // completion scheduled.
    const current = readDraft(FORM, init);
    const problems: Record<string, string> = {};
    const subject = current.subject.trim();
    const body = current.body.trim();
    const contact = current.contactEmail.trim();
    if (!subject) problems.subject = 'Enter a subject.';
    else if (subject.length > SUBJECT_MAX) problems.subject = `Keep the subject to ${SUBJECT_MAX} characters.`;
    if (!body) problems.body = 'Describe the problem.';
    else if (body.length > BODY_MAX) problems.body = `Keep the description to ${BODY_MAX.toLocaleString('en')} characters.`;
    if (contact && !/^[^\s@]+@[^\s@]+$/.test(contact)) problems.contact_email = 'Enter an email address like dev@example.com.';
    const ready = uploadsReady(readDraft<UploadItem[]>(uploadsKey(FORM), () => []));
    if (ready.problem) problems.attachments = ready.problem;
    setLocalErrors(problems);
    setNote(null);
    if (Object.keys(problems).length) {
      setError(null);
      const first = Object.keys(problems)[0];
      document.getElementById(first === 'attachments' ? 'new-ticket-submit' : `new-ticket-${first?.replace('_', '-')}`)?.focus();
      return;
    }
    const key = current.idempotencyKey ?? newIdempotencyKey();
    update({ idempotencyKey: key });
    setBusy(true);
    setError(null);
    const payload: Record<string, unknown> = { subject, body, priority: current.priority };
    if (contact) payload.contact_email = contact;
    if (ready.ids.length) payload.attachments = ready.ids;
    try {
      const ticket = await api<Ticket>('POST', paths.tickets, { body: payload, idempotencyKey: key });
      writeDraft(ticketCacheKey(ticket.id), ticket);
      setFlash(ticket.id, 'Your ticket is open. The Zumik team will reply here.');
      clearDraft(FORM);
      forgetUploads(FORM);
      navigate(href.ticket(ticket.id));
    } catch (caught) {
      setError(caught);
      if (caught instanceof ApiError && caught.code === 'idempotency_key_reused') {
        // The first attempt may have gone through before the connection dropped.
        update({ idempotencyKey: null });
        setNote('An earlier attempt of this form may already have opened the ticket: check your tickets before sending it again.');
      } else if (caught instanceof NetworkError) {
        setNote('Sending again is safe: Zumik will not open the same ticket twice.');
      }
      setBusy(false);
    }
  };

  const param = errorParam(error);
  const message = error ? describeError(error) : null;
  const fieldProblems = Object.keys(localErrors).filter((name) => name !== 'attachments');
  const localSummary =
    [fieldProblems.length ? 'Check the fields marked above.' : null, localErrors.attachments ?? null]
      .filter(Boolean)
      .join(' ') || null;
  const fieldError = (name: string): string | null => localErrors[name] ?? (param === name ? message : null);
  const subjectError = fieldError('subject');
  const bodyError = fieldError('body');
  const priorityError = fieldError('priority');
  const contactError = fieldError('contact_email');

  return (
    <div class="stack">
      <p class="breadcrumb">
        <a href={href.tickets()}>← All tickets</a>
      </p>
      <PageHeading title="New ticket" />
      {draft.followUp ? (
        <Notice>
          This ticket follows up on <a href={href.ticket(draft.followUp)}>{draft.followUp}</a>, which is closed.
        </Notice>
      ) : null}
      <form class="form card" noValidate onSubmit={submit}>
        <div class="field">
          <label for="new-ticket-subject">Subject</label>
          <input
            id="new-ticket-subject"
            type="text"
            maxLength={SUBJECT_MAX}
            required
            value={draft.subject}
            onInput={(e) => update({ subject: e.currentTarget.value })}
            {...invalidProps(subjectError, 'new-ticket-subject-error', 'new-ticket-subject-hint')}
          />
          <p id="new-ticket-subject-hint" class="hint">
            {draft.subject.length} / {SUBJECT_MAX} characters
          </p>
          {subjectError ? (
            <p id="new-ticket-subject-error" class="field-error">
              {subjectError}
            </p>
          ) : null}
        </div>
        <div class="field">
          <label for="new-ticket-body">Describe the problem</label>
          <textarea
            id="new-ticket-body"
            rows={10}
            maxLength={BODY_MAX}
            required
            value={draft.body}
            onInput={(e) => update({ body: e.currentTarget.value })}
            {...invalidProps(bodyError, 'new-ticket-body-error', 'new-ticket-body-hint')}
          />
          <p id="new-ticket-body-hint" class="hint">
            What you did, what happened, what you expected; request ids help. {draft.body.length.toLocaleString('en')} /{' '}
            {BODY_MAX.toLocaleString('en')} characters.
          </p>
          {bodyError ? (
            <p id="new-ticket-body-error" class="field-error">
              {bodyError}
            </p>
          ) : null}
        </div>
        <div class="field-row">
          <div class="field">
            <label for="new-ticket-priority">Priority</label>
            <select
              id="new-ticket-priority"
              value={draft.priority}
              onChange={(e) => update({ priority: e.currentTarget.value as Priority })}
              {...invalidProps(priorityError, 'new-ticket-priority-error', 'new-ticket-priority-hint')}
            >
              {PRIORITIES.map((p) => (
                <option key={p} value={p}>
                  {PRIORITY_LABELS[p]}
                </option>
              ))}
            </select>
            <p id="new-ticket-priority-hint" class="hint">
              Urgent: production is down or badly degraded.
            </p>
            {priorityError ? (
              <p id="new-ticket-priority-error" class="field-error">
                {priorityError}
              </p>
            ) : null}
          </div>
          <div class="field">
            <label for="new-ticket-contact-email">Contact email</label>
            <input
              id="new-ticket-contact-email"
              type="email"
              autocomplete="email"
              value={draft.contactEmail}
              onInput={(e) => update({ contactEmail: e.currentTarget.value })}
              {...invalidProps(contactError, 'new-ticket-contact-email-error', 'new-ticket-contact-email-hint')}
            />
            <p id="new-ticket-contact-email-hint" class="hint">
              Where Zumik tells you about replies.
            </p>
            {contactError ? (
              <p id="new-ticket-contact-email-error" class="field-error">
                {contactError}
              </p>
            ) : null}
          </div>
        </div>
        <AttachmentPicker formKey={FORM} uploadPath={paths.files} />
        <div class="actions">
          <button id="new-ticket-submit" type="submit" class="primary" disabled={busy}>
            {busy ? 'Opening ticket…' : 'Open ticket'}
          </button>
          <a href={href.tickets()} class="button secondary">
            Cancel
          </a>
        </div>
        <ErrorText message={localSummary ?? message} />
        {note ? <p class="hint">{note}</p> : null}
      </form>
    </div>
  );
}
