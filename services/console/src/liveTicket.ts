// A ticket that stays current: cached first paint, a poll every few seconds while the tab is
// visible, and polite announcements of what changed. Answers of the user's own changes win over
// a poll that started before them.

import { useEffect, useRef, useState } from 'preact/hooks';
import { ApiError, api } from './api';
import { usePoll } from './poll';
import { peekDraft, writeDraft } from './store';
import type { Message, TicketStatus } from './types';
import { STATUS_LABELS } from './components/ui';

interface TicketLike {
  id: string;
  status: TicketStatus;
  messages: Message[];
}

export interface LiveTicket<T> {
  ticket: T | null;
  loadError: unknown;
  /** The API's answer to the user's own change. */
  replace: (ticket: T) => void;
  refresh: () => Promise<void>;
  newIds: ReadonlySet<string>;
  announcement: string;
}

export function useLiveTicket<T extends TicketLike>(
  url: string,
  cacheKey: string,
  describeNew: (messages: Message[]) => string,
): LiveTicket<T> {
  const [ticket, setTicket] = useState<T | null>(() => peekDraft<T>(cacheKey) ?? null);
  const [loadError, setLoadError] = useState<unknown>(null);
  const [newIds, setNewIds] = useState<ReadonlySet<string>>(() => new Set());
  const [announcement, setAnnouncement] = useState('');
  const current = useRef(ticket);
  current.current = ticket;
  const changes = useRef(0);

  const store = (next: T) => {
    current.current = next;
    setTicket(next);
    writeDraft(cacheKey, next);
  };

  const replace = (next: T) => {
    changes.current++;
    store(next);
  };

  const refresh = async () => {
    const before = changes.current;
    let next: T;
    try {
      next = await api<T>('GET', url);
    } catch (error) {
      if (!current.current || (error instanceof ApiError && error.status === 404)) setLoadError(error);
      throw error;
    }
    if (before !== changes.current) return;
    setLoadError(null);
    const previous = current.current;
    if (previous) {
      const known = new Set(previous.messages.map((m) => m.id));
      const added = next.messages.filter((m) => !known.has(m.id));
      const parts: string[] = [];
      if (added.length) {
        parts.push(describeNew(added));
        setNewIds((ids) => new Set([...ids, ...added.map((m) => m.id)]));
      }
      if (previous.status !== next.status) parts.push(`Status is now ${STATUS_LABELS[next.status] ?? next.status}.`);
      if (parts.length) setAnnouncement(parts.join(' '));
    }
    store(next);
  };

  useEffect(() => {
    refresh().catch(() => undefined);
  }, [url]);

  usePoll(refresh, ticket !== null);

  return { ticket, loadError, replace, refresh, newIds, announcement };
}
