// In-memory state that outlives a screen: drafts (typed text, attachments, pending
// Idempotency-Keys), cached tickets and list filters. Never written to localStorage or
// sessionStorage; a reload starts clean, an expired session does not.

import { useEffect, useState } from 'preact/hooks';

type Listener = () => void;

const values = new Map<string, unknown>();
const listeners = new Map<string, Set<Listener>>();

export function readDraft<T>(key: string, init: () => T): T {
  if (!values.has(key)) values.set(key, init());
  return values.get(key) as T;
}

export function writeDraft<T>(key: string, update: T | ((previous: T) => T), init?: () => T): void {
  const previous = (values.has(key) ? values.get(key) : init?.()) as T;
  const next = typeof update === 'function' ? (update as (previous: T) => T)(previous) : update;
  values.set(key, next);
  listeners.get(key)?.forEach((listener) => listener());
}

export function clearDraft(key: string): void {
  values.delete(key);
  listeners.get(key)?.forEach((listener) => listener());
}

/** Forgets everything (sign-out, or a different person signing in). */
export function clearAll(): void {
  const keys = [...values.keys()];
  values.clear();
  for (const key of keys) listeners.get(key)?.forEach((listener) => listener());
}

/** A value in the store, re-rendering its component when anyone changes it. */
export function useDraft<T>(key: string, init: () => T): [T, (update: T | ((previous: T) => T)) => void] {
  const [, setVersion] = useState(0);
  useEffect(() => {
    const listener = () => setVersion((v) => v + 1);
    let set = listeners.get(key);
    if (!set) listeners.set(key, (set = new Set()));
    set.add(listener);
    return () => {
      set.delete(listener);
    };
  }, [key]);
  const value = readDraft(key, init);
  return [value, (update) => writeDraft(key, update, init)];
}

/** A stored value, if there is one (no default). */
export function peekDraft<T>(key: string): T | undefined {
  return values.get(key) as T | undefined;
}

/** One-shot messages for the next screen ("Ticket opened"). */
export function setFlash(key: string, message: string): void {
  values.set(`flash:${key}`, message);
}

export function takeFlash(key: string): string | null {
  const message = values.get(`flash:${key}`) as string | undefined;
  values.delete(`flash:${key}`);
  return message ?? null;
}
