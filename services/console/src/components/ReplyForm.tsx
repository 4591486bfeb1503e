// A message composer: textarea + attachments + submit, with a per-submission Idempotency-Key.
// The typed text is never cleared on failure; it lives in the draft store until it is sent.

import type { ComponentChildren } from 'preact';
import { useState } from 'preact/hooks';
import { ApiError, NetworkError, describeError, newIdempotencyKey } from '../api';
import { AttachmentPicker, forgetUploads, uploadsKey, uploadsReady, type UploadItem } from './attachments';
import { errorParam, invalidProps } from './form';
import { ErrorText } from './ui';
import { clearDraft, readDraft, useDraft } from '../store';

export const BODY_MAX = 20000;

export interface ReplyDraft {
  body: string;
  idempotencyKey: string | null;
}

export interface SendArgs {
  body: string;
  attachments: string[];
  idempotencyKey: string;
}

export function ReplyForm({
  formKey,
  idPrefix,
  label,
  submitLabel,
  busyLabel,
  uploadPath,
  send,
  hint,
  extra,
  readOnly = false,
  class: className = '',
  onFailure,
}: {
  formKey: string;
  idPrefix: string;
  label: string;
  submitLabel: string;
  busyLabel: string;
  uploadPath: string;
  /** Sends the message; resolves when the API accepted it. */
  send: (args: SendArgs) => Promise<void>;
  hint?: ComponentChildren;
  extra?: ComponentChildren;
  readOnly?: boolean;
  class?: string;
  onFailure?: (error: unknown) => void;
}) {
  const [draft, setDraft] = useDraft<ReplyDraft>(formKey, () => ({ body: '', idempotencyKey: null }));
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [localError, setLocalError] = useState<string | null>(null);
  const [note, setNote] = useState<string | null>(null);

  const bodyId = `${idPrefix}-body`;
  const submit = async (event: Event) => {
    event.preventDefault();
    if (busy || readOnly) return;
    // The store's values, not this render's: a click may land before the re-render an upload's
    // completion scheduled.
    const current = readDraft<ReplyDraft>(formKey, () => ({ body: '', idempotencyKey: null }));
    const body = current.body.trim();
    const ready = uploadsReady(readDraft<UploadItem[]>(uploadsKey(formKey), () => []));
    let problem: string | null = null;
    if (!body) problem = 'Write a message first.';
    else if (body.length > BODY_MAX) problem = `Keep the message to ${BODY_MAX.toLocaleString('en')} characters.`;
    else if (ready.problem) problem = ready.problem;
    setLocalError(problem);
    setNote(null);
    if (problem) {
      setError(null);
      if (!body || body.length > BODY_MAX) document.getElementById(bodyId)?.focus();
      return;
    }
    const key = current.idempotencyKey ?? newIdempotencyKey();
    setDraft((d) => ({ ...d, idempotencyKey: key }));
    setBusy(true);
    setError(null);
    try {
      await send({ body, attachments: ready.ids, idempotencyKey: key });
      clearDraft(formKey);
      forgetUploads(formKey);
    } catch (caught) {
      setError(caught);
      if (caught instanceof ApiError && caught.code === 'idempotency_key_reused') {
        setDraft((d) => ({ ...d, idempotencyKey: null }));
        setNote('An earlier attempt may already have been sent: check the conversation before sending again.');
      } else if (caught instanceof NetworkError) {
        setNote('Sending again is safe: the same message is never added twice.');
      }
      onFailure?.(caught);
    } finally {
      setBusy(false);
    }
  };

  const message = localError ?? (error ? describeError(error) : null);
  const bodyError = errorParam(error) === 'body' ? message : localError && !draft.body.trim() ? localError : null;
  return (
    <form class={`form reply-form ${className}`} noValidate onSubmit={submit}>
      <div class="field">
        <label for={bodyId}>{label}</label>
        <textarea
          id={bodyId}
          rows={6}
          maxLength={BODY_MAX}
          value={draft.body}
          readOnly={readOnly}
          onInput={(e) => setDraft((d) => ({ ...d, body: e.currentTarget.value }))}
          {...invalidProps(bodyError, `${idPrefix}-error`, hint ? `${idPrefix}-hint` : undefined)}
        />
        {hint ? (
          <p id={`${idPrefix}-hint`} class="hint">
            {hint}
          </p>
        ) : null}
      </div>
      {readOnly ? null : <AttachmentPicker formKey={formKey} uploadPath={uploadPath} />}
      {extra}
      {readOnly ? null : (
        <div class="actions">
          <button type="submit" class="primary" disabled={busy}>
            {busy ? busyLabel : submitLabel}
          </button>
        </div>
      )}
      <ErrorText id={`${idPrefix}-error`} message={message} />
      {note ? <p class="hint">{note}</p> : null}
    </form>
  );
}
