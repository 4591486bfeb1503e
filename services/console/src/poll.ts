// Polling while the tab is visible: paused when hidden, one refresh as soon as it shows again.

import { useEffect, useRef } from 'preact/hooks';

export const POLL_MS = 8000;

export function usePoll(refresh: () => Promise<unknown>, enabled: boolean, everyMs = POLL_MS): void {
  const latest = useRef(refresh);
  latest.current = refresh;

  useEffect(() => {
    if (!enabled) return;
    let timer: number | undefined;
    let running = false;
    let stopped = false;

    const schedule = () => {
      window.clearTimeout(timer);
      if (!stopped && document.visibilityState === 'visible') {
        timer = window.setTimeout(tick, everyMs);
      }
    };
    const tick = async () => {
      if (running || stopped) return;
      running = true;
      try {
        await latest.current();
      } catch {
        // A failed refresh is retried at the next tick; the page keeps what it shows.
      } finally {
        running = false;
        schedule();
      }
    };
    const onVisibility = () => {
      if (document.visibilityState === 'visible') void tick();
      else window.clearTimeout(timer);
    };

    schedule();
    document.addEventListener('visibilitychange', onVisibility);
    return () => {
      stopped = true;
      window.clearTimeout(timer);
      document.removeEventListener('visibilitychange', onVisibility);
    };
  }, [enabled, everyMs]);
}
