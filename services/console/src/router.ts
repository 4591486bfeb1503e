// Hash routes, so the server only ever serves index.html and the assets.

import { useEffect, useState } from 'preact/hooks';

export type Route =
  | { name: 'home' }
  | { name: 'link'; token: string }
  | { name: 'tickets' }
  | { name: 'new-ticket'; followUp: string | null }
  | { name: 'ticket'; id: string }
  | { name: 'inbox' }
  | { name: 'staff-ticket'; id: string }
  | { name: 'not-found' };

export function parseRoute(hash: string): Route {
  const raw = hash.replace(/^#/, '');
  const [pathPart = '', queryPart = ''] = raw.split('?', 2);
  const parts = pathPart.split('/').filter(Boolean).map(safeDecode);
  const params = new URLSearchParams(queryPart);
  const [first, second, third] = parts;
  if (parts.length === 0 || first === 'signin') return { name: 'home' };
  if (first === 'link' && second && !third) return { name: 'link', token: second };
  if (first === 'tickets') {
    if (!second) return { name: 'tickets' };
    if (second === 'new' && !third) return { name: 'new-ticket', followUp: params.get('follow_up') };
    if (!third) return { name: 'ticket', id: second };
  }
  if (first === 'inbox') {
    if (!second) return { name: 'inbox' };
    if (!third) return { name: 'staff-ticket', id: second };
  }
  return { name: 'not-found' };
}

function safeDecode(part: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    return part;
  }
}

export const href = {
  tickets: () => '#/tickets',
  newTicket: (followUp?: string) =>
    followUp ? `#/tickets/new?follow_up=${encodeURIComponent(followUp)}` : '#/tickets/new',
  ticket: (id: string) => `#/tickets/${encodeURIComponent(id)}`,
  inbox: () => '#/inbox',
  staffTicket: (id: string) => `#/inbox/${encodeURIComponent(id)}`,
};

export function navigate(target: string, replace = false): void {
  if (replace) {
    history.replaceState(history.state, '', target);
    window.dispatchEvent(new HashChangeEvent('hashchange'));
  } else {
    location.hash = target.replace(/^#/, '');
  }
}

export function useRoute(): Route {
  const [route, setRoute] = useState(() => parseRoute(location.hash));
  useEffect(() => {
    const update = () => setRoute(parseRoute(location.hash));
    window.addEventListener('hashchange', update);
    return () => window.removeEventListener('hashchange', update);
  }, []);
  return route;
}
