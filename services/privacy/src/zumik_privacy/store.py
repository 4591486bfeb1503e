"""The collections the privacy service reads, erases and owns, and the indexes it relies on.

Other services own most of what erasure deletes; their layouts are documented with them:
- `tickets`, `projects`, `api_keys`, `idempotency_keys`, `ticket_locks`, `sla_timers`,
  `outbox_acks`: the API
  (zumik_api.adapters);
- `notification_deliveries`: the notifier, keyed by `project_id` and `ticket_id`.
The privacy service owns `privacy_exports` (export manifests), `privacy_export_chunks` (the
exports' bytes) and `privacy_receipts` (erasure receipts).
"""

from pymongo import ASCENDING
from pymongo.asynchronous.database import AsyncDatabase
from zumik_api.adapters import mongo
from zumik_api.adapters.mongo import Document

TICKETS = "tickets"
PROJECTS = "projects"
API_KEYS = "api_keys"
IDEMPOTENCY_KEYS = "idempotency_keys"
TICKET_LOCKS = "ticket_locks"
SLA_TIMERS = "sla_timers"
OUTBOX_ACKS = "outbox_acks"
NOTIFICATION_DELIVERIES = "notification_deliveries"

EXPORTS = "privacy_exports"
EXPORT_CHUNKS = "privacy_export_chunks"
RECEIPTS = "privacy_receipts"


async def ensure_indexes(db: AsyncDatabase[Document]) -> None:
    # The API's indexes too: erasure and export query tickets by project and contact email, and
    # the privacy service may start before the API ever did. Creating an index is idempotent.
    await mongo.ensure_indexes(db)
    await db[EXPORTS].create_index([("project_id", ASCENDING)])
    await db[EXPORTS].create_index([("expires_at", ASCENDING)])
    await db[EXPORT_CHUNKS].create_index([("export_id", ASCENDING), ("writer", ASCENDING)])
    await db[EXPORT_CHUNKS].create_index([("project_id", ASCENDING)])
    await db[EXPORT_CHUNKS].create_index([("expires_at", ASCENDING)])
    await db[RECEIPTS].create_index([("project_id", ASCENDING)])
