// Attachments: the picker (XMLHttpRequest uploads with a <progress>, 25 MB and 10 files at most)
// and the list shown next to a message. Upload state lives in the draft store, so it survives
// the screen going away (a session that ends mid-upload) and never touches typed text.

import { useId, useRef, useState } from 'preact/hooks';
import { ApiError, describeError, isAbort, uploadFile } from '../api';
import { useDraft, writeDraft } from '../store';
import type { ApiFile, Attachment, Redactions } from '../types';
import { formatBytes } from './ui';

export const MAX_FILE_BYTES = 25 * 1024 * 1024;
export const MAX_ATTACHMENTS = 10;

export interface UploadItem {
  localId: string;
  name: string;
  size: number;
  status: 'uploading' | 'done' | 'failed';
  progress: number;
  error: string | null;
  result: ApiFile | null;
}

// Not in the store's values: File objects and abort functions are kept aside, by local id.
const files = new Map<string, File>();
const aborts = new Map<string, () => void>();
let counter = 0;

/** Stops every upload in flight (sign-out). */
export function abortAllUploads(): void {
  for (const abort of aborts.values()) abort();
  aborts.clear();
  files.clear();
}

export function uploadsKey(formKey: string): string {
  return `${formKey}:uploads`;
}

const emptyUploads = (): UploadItem[] => [];

/** What a form needs to know before it sends: the ids, or why it cannot send yet. */
export function uploadsReady(items: UploadItem[]): { ids: string[]; problem: string | null } {
  if (items.some((item) => item.status === 'uploading')) {
    return { ids: [], problem: 'Wait for the attachments to finish uploading.' };
  }
  if (items.some((item) => item.status === 'failed')) {
    return { ids: [], problem: 'Retry or remove the attachments that failed to upload.' };
  }
  return { ids: items.flatMap((item) => (item.result ? [item.result.id] : [])), problem: null };
}

export function forgetUploads(formKey: string): void {
  writeDraft<UploadItem[]>(uploadsKey(formKey), (items) => {
    for (const item of items) {
      files.delete(item.localId);
      aborts.delete(item.localId);
    }
    return [];
  }, emptyUploads);
}

function startUpload(formKey: string, uploadPath: string, localId: string): void {
  const file = files.get(localId);
  if (!file) return;
  const key = uploadsKey(formKey);
  const patch = (change: Partial<UploadItem>) =>
    writeDraft<UploadItem[]>(
      key,
      (items) => items.map((item) => (item.localId === localId ? { ...item, ...change } : item)),
      emptyUploads,
    );
  patch({ status: 'uploading', progress: 0, error: null });
  const upload = uploadFile<ApiFile>(uploadPath, file, (fraction) => patch({ progress: fraction }));
  aborts.set(localId, upload.abort);
  upload.promise.then(
    (result) => {
      aborts.delete(localId);
      files.delete(localId);
      patch({ status: 'done', progress: 1, result });
    },
    (error: unknown) => {
      aborts.delete(localId);
      if (isAbort(error)) return;
      const message =
        error instanceof ApiError && error.status === 413
          ? `${file.name} is larger than Zumik accepts (25 MB at most).${error.requestId ? ` (request ${error.requestId})` : ''}`
          : describeError(error);
      patch({ status: 'failed', error: message });
    },
  );
}

export function AttachmentPicker({
  formKey,
  uploadPath,
  disabled = false,
  label = 'Attach files',
}: {
  formKey: string;
  uploadPath: string;
  disabled?: boolean;
  label?: string;
}) {
  const [items, setItems] = useDraft<UploadItem[]>(uploadsKey(formKey), emptyUploads);
  const [pickError, setPickError] = useState<string | null>(null);
  const input = useRef<HTMLInputElement>(null);
  const id = useId();
  const hintId = `${id}-hint`;

  const onPick = () => {
    const picked = Array.from(input.current?.files ?? []);
    if (input.current) input.current.value = '';
    if (picked.length === 0) return;
    const problems: string[] = [];
    const room = MAX_ATTACHMENTS - items.length;
    if (picked.length > room) {
      problems.push(
        `Up to ${MAX_ATTACHMENTS} attachments per message: ${room > 0 ? `only the first ${room} of these were added` : 'remove one to add another'}.`,
      );
    }
    const accepted: UploadItem[] = [];
    for (const file of picked.slice(0, Math.max(0, room))) {
      if (file.size > MAX_FILE_BYTES) {
        problems.push(`${file.name} is ${formatBytes(file.size)}; files can be 25 MB at most.`);
        continue;
      }
      if (file.size === 0) {
        problems.push(`${file.name} is empty.`);
        continue;
      }
      const localId = `up${++counter}`;
      files.set(localId, file);
      accepted.push({ localId, name: file.name, size: file.size, status: 'uploading', progress: 0, error: null, result: null });
    }
    setPickError(problems.length ? problems.join(' ') : null);
    if (accepted.length) {
      setItems((current) => [...current, ...accepted]);
      for (const item of accepted) startUpload(formKey, uploadPath, item.localId);
    }
  };

  const remove = (localId: string) => {
    aborts.get(localId)?.();
    aborts.delete(localId);
    files.delete(localId);
    setItems((current) => current.filter((item) => item.localId !== localId));
  };

  return (
    <div class="attachments">
      <label for={id} class="file-label">
        {label}
      </label>
      <input
        id={id}
        ref={input}
        type="file"
        multiple
        disabled={disabled || items.length >= MAX_ATTACHMENTS}
        aria-describedby={hintId}
        onChange={onPick}
      />
      <p id={hintId} class="hint">
        Up to {MAX_ATTACHMENTS} files, 25 MB each. Secrets in HAR files (auth headers, cookies, tokens) are
        removed when they are uploaded.
      </p>
      {pickError ? (
        <p class="error" role="alert">
          {pickError}
        </p>
      ) : null}
      {items.length > 0 ? (
        <ul class="upload-list" aria-label="Attachments for this message">
          {items.map((item) => (
            <li key={item.localId} class={`upload upload-${item.status}`}>
              <span class="upload-name">
                {item.name} <span class="muted">({formatBytes(item.size)})</span>
              </span>
              {item.status === 'uploading' ? (
                <>
                  <progress max={1} value={item.progress} aria-label={`Uploading ${item.name}`} />
                  <span class="muted">{Math.round(item.progress * 100)} %</span>
                </>
              ) : null}
              {item.status === 'done' ? (
                <span class="upload-ok">
                  Uploaded{item.result ? <RedactionNote attachment={item.result} /> : null}
                </span>
              ) : null}
              {item.status === 'failed' ? (
                <>
                  <span class="error">{item.error}</span>
                  {files.has(item.localId) ? (
                    <button type="button" class="small" onClick={() => startUpload(formKey, uploadPath, item.localId)}>
                      Retry<span class="visually-hidden"> {item.name}</span>
                    </button>
                  ) : null}
                </>
              ) : null}
              <button type="button" class="small secondary" onClick={() => remove(item.localId)}>
                {item.status === 'uploading' ? 'Cancel' : 'Remove'}
                <span class="visually-hidden"> {item.name}</span>
              </button>
            </li>
          ))}
        </ul>
      ) : null}
    </div>
  );
}

function isHar(attachment: Pick<Attachment, 'filename' | 'content_type'>): boolean {
  return /\.har$/i.test(attachment.filename) || /har\+json/i.test(attachment.content_type ?? '');
}

function kindLabel(kind: string, count: number): string {
  const words = kind.replace(/[_-]+/g, ' ').trim().toLowerCase();
  if (count === 1) {
    if (/ies$/.test(words)) return words.replace(/ies$/, 'y');
    if (/[^s]s$/.test(words)) return words.slice(0, -1);
    return words;
  }
  if (/y$/.test(words) && !/[aeiou]y$/.test(words)) return words.replace(/y$/, 'ies');
  return /s$/.test(words) ? words : `${words}s`;
}

/** "HAR scrubbed: 3 headers, 2 cookies, 1 token removed", or null when there is nothing to say. */
export function redactionSummary(attachment: Pick<Attachment, 'filename' | 'content_type'> & { redactions?: Redactions }): string | null {
  const redactions = attachment.redactions;
  if (!redactions) return null;
  const parts = Object.entries(redactions)
    .filter(([, count]) => typeof count === 'number' && count > 0)
    .map(([kind, count]) => `${count} ${kindLabel(kind, count)}`);
  const har = isHar(attachment);
  if (parts.length === 0) return har ? 'HAR checked: nothing to remove' : null;
  return `${har ? 'HAR scrubbed' : 'Scrubbed'}: ${parts.join(', ')} removed`;
}

function RedactionNote({ attachment }: { attachment: Pick<Attachment, 'filename' | 'content_type'> & { redactions?: Redactions } }) {
  const summary = redactionSummary(attachment);
  return summary ? <span class="redaction"> — {summary}</span> : null;
}

/** The attachments of a sent message: plain download links. */
export function AttachmentList({ attachments, hrefFor }: { attachments: Attachment[]; hrefFor: (id: string) => string }) {
  if (attachments.length === 0) return null;
  return (
    <ul class="files" aria-label="Attachments">
      {attachments.map((attachment) => (
        <li key={attachment.id}>
          <a href={hrefFor(attachment.id)} download={attachment.filename}>
            {attachment.filename}
          </a>{' '}
          <span class="muted">({formatBytes(attachment.size)})</span>
          <RedactionNote attachment={attachment} />
        </li>
      ))}
    </ul>
  );
}
