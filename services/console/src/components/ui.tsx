// Small shared pieces: badges (never colour alone), times, errors, headings, live regions.

import type { ComponentChildren } from 'preact';
import { useEffect, useRef } from 'preact/hooks';
import { formatAbsolute, formatRelative, slaClock } from '../time';
import type { Priority, TicketStatus, TicketSummary } from '../types';

export const STATUS_LABELS: Record<TicketStatus, string> = {
  open: 'Open',
  pending: 'Pending',
  resolved: 'Resolved',
  closed: 'Closed',
};

const STATUS_ICONS: Record<TicketStatus, string> = {
  open: '●',
  pending: '◐',
  resolved: '✓',
  closed: '■',
};

export const PRIORITY_LABELS: Record<Priority, string> = {
  low: 'Low',
  normal: 'Normal',
  high: 'High',
  urgent: 'Urgent',
};

export function capitalize(text: string): string {
  return text ? text.charAt(0).toUpperCase() + text.slice(1) : text;
}

export function StatusBadge({ status }: { status: TicketStatus }) {
  return (
    <span class={`badge status-${status}`} data-status={status}>
      <span class="visually-hidden">Status: </span>
      <span aria-hidden="true" class="badge-icon">
        {STATUS_ICONS[status] ?? '•'}
      </span>
      {STATUS_LABELS[status] ?? capitalize(status)}
    </span>
  );
}

export function PriorityTag({ priority }: { priority: Priority }) {
  return (
    <span class={`priority priority-${priority}`} data-priority={priority}>
      <span class="visually-hidden">Priority: </span>
      {priority === 'urgent' || priority === 'high' ? (
        <span aria-hidden="true" class="priority-icon">
          {priority === 'urgent' ? '!! ' : '! '}
        </span>
      ) : null}
      {PRIORITY_LABELS[priority] ?? capitalize(priority)}
      <span aria-hidden="true"> priority</span>
    </span>
  );
}

export function TimeAgo({ iso, now }: { iso: string; now: number }) {
  return (
    <time dateTime={iso} title={formatAbsolute(iso)}>
      {formatRelative(iso, now)}
    </time>
  );
}

/** An absolute time in the user's locale, the relative one in its title. */
export function TimeAt({ iso, now }: { iso: string; now: number }) {
  return (
    <time dateTime={iso} title={formatRelative(iso, now)}>
      {formatAbsolute(iso)}
    </time>
  );
}

export function SlaClockView({ ticket, now }: { ticket: TicketSummary; now: number }) {
  const clock = slaClock(ticket, now);
  const icon = clock.state === 'breached' ? '⚠ ' : clock.state === 'soon' ? '⏱ ' : '';
  const due = ticket.first_response_due_at;
  return (
    <span
      class={`sla-clock sla-${clock.state}`}
      data-sla={clock.state}
      title={due && clock.state !== 'answered' ? `First response due ${formatAbsolute(due)}` : undefined}
    >
      <span class="visually-hidden">First response: </span>
      {icon ? <span aria-hidden="true">{icon}</span> : null}
      {clock.text}
    </span>
  );
}

export function ErrorText({ message, id }: { message: string | null; id?: string }) {
  // Always rendered, so screen readers announce the text when it appears.
  return (
    <p class={message ? 'error' : 'error empty'} role="alert" id={id}>
      {message ?? ''}
    </p>
  );
}

export function RetryableError({ message, onRetry }: { message: string; onRetry: () => void }) {
  return (
    <div class="stack-sm">
      <ErrorText message={message} />
      <button type="button" onClick={onRetry}>
        Try again
      </button>
    </div>
  );
}

export function Notice({ children, tone = 'info' }: { children: ComponentChildren; tone?: 'info' | 'success' | 'warning' }) {
  return <div class={`notice notice-${tone}`}>{children}</div>;
}

/** A polite live region that exists before its text changes, so the change is announced. */
export function LiveRegion({ message, testId }: { message: string; testId?: string }) {
  return (
    <p class={message ? 'live' : 'live empty'} aria-live="polite" aria-atomic="true" data-testid={testId}>
      {message}
    </p>
  );
}

let focusRequestedAt = 0;

/** Called on in-app navigation: the next screen's h1 takes focus (for screen readers). */
export function requestHeadingFocus(): void {
  focusRequestedAt = Date.now();
}

/**
 * Takes focus for a heading that appears soon after a navigation (a screen may first show a
 * loading heading, then the real one), unless the user has already moved focus somewhere else.
 */
function claimFocus(heading: HTMLHeadingElement): void {
  if (Date.now() - focusRequestedAt > 5000) return;
  const active = document.activeElement;
  const free = !active || active === document.body || active.tagName === 'H1' || active.closest('nav, .breadcrumb') !== null || active.id === 'main';
  if (!free || active === heading) return;
  heading.focus({ preventScroll: false });
}

export function PageHeading({ title, children }: { title: string; children?: ComponentChildren }) {
  const ref = useRef<HTMLHeadingElement>(null);
  useEffect(() => {
    document.title = `${title} · Zumik Support`;
  }, [title]);
  useEffect(() => {
    if (ref.current) claimFocus(ref.current);
  }, []);
  return (
    <h1 ref={ref} tabIndex={-1}>
      {children ?? title}
    </h1>
  );
}

export function formatBytes(size: number): string {
  if (size < 1024) return `${size} B`;
  if (size < 1024 * 1024) return `${(size / 1024).toFixed(size < 10 * 1024 ? 1 : 0)} KB`;
  return `${(size / (1024 * 1024)).toFixed(1)} MB`;
}

export function Spinner({ label }: { label: string }) {
  return (
    <p class="loading" role="status">
      {label}
    </p>
  );
}
