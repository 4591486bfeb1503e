// The objects of the Zumik Support API, as the console reads them.

export type Priority = 'low' | 'normal' | 'high' | 'urgent';
export type TicketStatus = 'open' | 'pending' | 'resolved' | 'closed';
export type SlaTier = 'community' | 'standard' | 'priority' | 'enterprise';

export const PRIORITIES: readonly Priority[] = ['low', 'normal', 'high', 'urgent'];
export const STATUSES: readonly TicketStatus[] = ['open', 'pending', 'resolved', 'closed'];
export const TIERS: readonly SlaTier[] = ['community', 'standard', 'priority', 'enterprise'];

export interface Session {
  object: 'console_session';
  kind: 'customer' | 'staff';
  project_id: string | null;
  project_name: string | null;
  plan: string | null;
  email: string;
  csrf_token: string;
  expires_at: string;
  idle_timeout_seconds: number;
}

export interface Sla {
  tier: SlaTier | string;
  first_response_target: string;
  priority_queue: boolean;
}

/** `{"<kind>": count}`, or null when the file was not scanned. */
export type Redactions = Record<string, number> | null;

export interface Attachment {
  id: string;
  filename: string;
  size: number;
  content_type: string;
  redactions?: Redactions;
}

export interface ApiFile extends Attachment {
  object: 'file';
  sha256: string;
  created_at: string;
}

export interface TicketSummary {
  object: 'support_ticket';
  id: string;
  subject: string;
  priority: Priority;
  status: TicketStatus;
  plan_tier: string;
  sla: Sla;
  contact_email: string | null;
  message_count: number;
  first_response_due_at: string | null;
  first_responded_at: string | null;
  sla_breached: boolean;
  created_at: string;
  updated_at: string;
}

export interface Message {
  object: 'support_message';
  id: string;
  author: 'customer' | 'support';
  body: string;
  created_at: string;
  attachments?: Attachment[];
  /** Staff view only. */
  internal?: boolean;
}

export interface Ticket extends TicketSummary {
  messages: Message[];
}

export interface StaffTicketSummary extends TicketSummary {
  project_id: string;
  assignee: string | null;
  awaiting_team: boolean;
}

export interface HistoryEntry {
  field: string;
  old: string | null;
  new: string | null;
  by: string;
  at: string;
}

export interface StaffTicket extends StaffTicketSummary {
  messages: Message[];
  history: HistoryEntry[];
}

export interface TicketList {
  object: 'list';
  data: TicketSummary[];
  has_more: boolean;
}

export interface StaffQueuePage {
  object: 'list';
  data: StaffTicketSummary[];
  has_more: boolean;
  next_cursor: string | null;
}
