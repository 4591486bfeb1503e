// A ticket's thread. Bodies are text nodes (never HTML), line breaks kept by CSS.

import { AttachmentList } from './attachments';
import { TimeAt } from './ui';
import type { Message } from '../types';

export function Thread({
  messages,
  view,
  newIds,
  now,
  hrefFor,
}: {
  messages: Message[];
  view: 'customer' | 'staff';
  newIds: ReadonlySet<string>;
  now: number;
  hrefFor: (fileId: string) => string;
}) {
  return (
    <ol class="thread" aria-label="Messages">
      {messages.map((message) => {
        const internal = view === 'staff' && message.internal === true;
        const kind = internal ? 'internal' : message.author === 'customer' ? 'from-customer' : 'from-support';
        const author = internal
          ? 'Internal note — not visible to the customer'
          : message.author === 'customer'
            ? view === 'customer'
              ? 'You'
              : 'Customer'
            : view === 'customer'
              ? 'Zumik support'
              : 'Zumik team';
        const headingId = `msg-${message.id}`;
        return (
          <li key={message.id} class={`message ${kind}`} data-message-id={message.id} data-author={message.author}>
            <article aria-labelledby={headingId}>
              <header class="message-head">
                <h3 id={headingId} class="message-author">
                  {author}
                </h3>
                <TimeAt iso={message.created_at} now={now} />
                {newIds.has(message.id) ? <span class="new-tag">New</span> : null}
              </header>
              <div class="message-body">{message.body}</div>
              <AttachmentList attachments={message.attachments ?? []} hrefFor={hrefFor} />
            </article>
          </li>
        );
      })}
    </ol>
  );
}
