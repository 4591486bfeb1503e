// What a ticket page shows until its ticket is there: a spinner, the load error with a retry,
// or that there is no such ticket (the customer's page and the team's share it).

import type { ComponentChildren } from 'preact';
import { ApiError, describeError } from '../api';
import { PageHeading, RetryableError, Spinner } from './ui';

export function TicketUnavailable({
  back,
  missing,
  loadError,
  onRetry,
}: {
  back: ComponentChildren; // the breadcrumb's link
  missing: ComponentChildren; // what a 404 says
  loadError: unknown;
  onRetry: () => void;
}) {
  const notFound = loadError instanceof ApiError && loadError.status === 404;
  return (
    <div class="stack">
      <p class="breadcrumb">{back}</p>
      <PageHeading title={notFound ? 'Ticket not found' : 'Ticket'} />
      {notFound ? (
        <p>{missing}</p>
      ) : loadError ? (
        <RetryableError message={describeError(loadError)} onRetry={onRetry} />
      ) : (
        <Spinner label="Loading the ticket…" />
      )}
    </div>
  );
}
