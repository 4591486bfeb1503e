// Times: relative with Intl.RelativeTimeFormat, absolute in the user's locale, and the SLA clock.

import { useEffect, useState } from 'preact/hooks';
import type { TicketSummary } from './types';

// The words around relative times are English, so relative phrases are too; absolute dates
// and times follow the browser's locale.
const relative = new Intl.RelativeTimeFormat('en', { numeric: 'auto' });
const absolute = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });

const UNITS: [Intl.RelativeTimeFormatUnit, number][] = [
  ['year', 365 * 24 * 3600],
  ['month', 30 * 24 * 3600],
  ['week', 7 * 24 * 3600],
  ['day', 24 * 3600],
  ['hour', 3600],
  ['minute', 60],
];

export function parseTime(iso: string | null | undefined): number | null {
  if (!iso) return null;
  const ms = Date.parse(iso);
  return Number.isNaN(ms) ? null : ms;
}

export function formatRelative(iso: string, now: number): string {
  const ms = parseTime(iso);
  if (ms === null) return iso;
  const seconds = Math.round((ms - now) / 1000);
  const size = Math.abs(seconds);
  if (size < 45) return relative.format(0, 'second');
  for (const [unit, span] of UNITS) {
    if (size >= span) return relative.format(Math.trunc(seconds / span), unit);
  }
  return relative.format(Math.trunc(seconds / 60) || Math.sign(seconds), 'minute');
}

export function formatAbsolute(iso: string): string {
  const ms = parseTime(iso);
  return ms === null ? iso : absolute.format(ms);
}

/** "2 h 10 min", "35 min", "3 d 4 h", "less than 1 min". */
export function formatDuration(ms: number): string {
  const minutes = Math.floor(Math.abs(ms) / 60000);
  if (minutes < 1) return 'less than 1 min';
  const days = Math.floor(minutes / 1440);
  const hours = Math.floor((minutes % 1440) / 60);
  const mins = minutes % 60;
  if (days > 0) return hours > 0 ? `${days} d ${hours} h` : `${days} d`;
  if (hours > 0) return mins > 0 ? `${hours} h ${mins} min` : `${hours} h`;
  return `${mins} min`;
}

export type SlaState = 'answered' | 'none' | 'due' | 'soon' | 'breached';

export interface SlaClock {
  state: SlaState;
  text: string;
}

/** The first-response clock: "due in 2 h 10 min", "breached 35 min ago", "no SLA", "answered". */
export function slaClock(ticket: TicketSummary, now: number): SlaClock {
  if (ticket.first_responded_at) return { state: 'answered', text: 'answered' };
  const due = parseTime(ticket.first_response_due_at);
  if (due === null) return { state: 'none', text: 'no SLA' };
  const left = due - now;
  if (left <= 0 || ticket.sla_breached) {
    if (left > 0) return { state: 'breached', text: 'breached' };
    return { state: 'breached', text: left > -60000 ? 'breached just now' : `breached ${formatDuration(left)} ago` };
  }
  const created = parseTime(ticket.created_at);
  const total = created === null ? null : due - created;
  // The API warns at 80 % of the time; the console flags the same last fifth.
  const soon = total !== null && total > 0 ? left <= total * 0.2 : left <= 30 * 60000;
  return { state: soon ? 'soon' : 'due', text: `due in ${formatDuration(left)}` };
}

/** The current time, refreshed every `everyMs` (SLA clocks: 30 s). */
export function useNow(everyMs: number): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const timer = window.setInterval(() => setNow(Date.now()), everyMs);
    return () => window.clearInterval(timer);
  }, [everyMs]);
  return now;
}
