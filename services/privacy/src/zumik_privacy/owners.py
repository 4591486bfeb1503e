"""The owners of the data privacy requests reach: the privacy service asks each to export or
erase what it keeps, and never reads their collections itself.

| owner (library)          | keeps                                                        |
|--------------------------|--------------------------------------------------------------|
| accounts: `Projects`     | projects, API keys                                           |
| tickets: `TicketPrivacy` | tickets (threads, notes, history, outbox), ticket leases,    |
|                          | SLA timers, outbox acks                                      |
| idempotency              | stored responses (whole tickets), by project and ticket      |
| deliveries: `DeliveryLog`| notification delivery records (ids only), by project/ticket  |
| privacy records          | exports (copies of tickets) and erasure receipts             |
| files: `FilePrivacy`     | attachments (GridFS files and chunks), their claims, uploads |
"""

from dataclasses import dataclass
from datetime import timedelta

from pymongo.asynchronous.database import AsyncDatabase
from zumik_accounts.projects import Projects
from zumik_deliveries.log import DeliveryLog
from zumik_files.privacy import FilePrivacy
from zumik_idempotency import IdempotencyRecords
from zumik_privacy_records.exports import PrivacyRecords
from zumik_store.clock import Clock
from zumik_store.mongo import Document
from zumik_tickets.privacy import TicketPrivacy

from zumik_privacy.settings import Settings


@dataclass(frozen=True)
class Owners:
    projects: Projects
    tickets: TicketPrivacy
    idempotency: IdempotencyRecords
    deliveries: DeliveryLog
    records: PrivacyRecords
    files: FilePrivacy

    @classmethod
    def on(cls, db: AsyncDatabase[Document], settings: Settings, clock: Clock) -> "Owners":
        return cls(
            projects=Projects(db, clock),
            tickets=TicketPrivacy(
                db, lease_wait_seconds=settings.privacy_ticket_lock_wait_seconds, clock=clock
            ),
            idempotency=IdempotencyRecords(db, clock=clock),
            deliveries=DeliveryLog(db, timedelta(seconds=60), clock),
            records=PrivacyRecords(
                db,
                claim_lease=timedelta(seconds=settings.privacy_claim_lease_seconds),
                clock=clock,
            ),
            files=FilePrivacy(db, clock=clock),
        )

    async def ensure_indexes(self) -> None:
        await self.projects.ensure_indexes()
        await self.idempotency.ensure_indexes()
        await self.deliveries.ensure_indexes()
        await self.records.ensure_indexes()
        await self.files.ensure_indexes()
