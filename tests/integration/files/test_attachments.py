"""Files on messages: customer create and reply, team reply and internal note; one message per
file, even when two race for it; who sees which file; events and the team's email."""

import asyncio
import secrets
from typing import Any

import httpx
from pymongo.asynchronous.database import AsyncDatabase
from zumik_files.store import CLAIMS
from zumik_store.mongo import Document
from zumik_tickets.reader import TicketReader

from tests.conftest import ApiProject
from tests.integration.files.har import capture
from tests.integration.files.helpers import (
    FILES_PATH,
    PNG,
    STAFF,
    TICKETS,
    EventQueue,
    StaffUser,
    upload,
    uploaded,
)


async def _ticket(
    api: httpx.AsyncClient, project: ApiProject, attachments: list[str] | None = None
) -> dict[str, Any]:
    payload: dict[str, Any] = {"subject": "Exports are empty", "body": "See the capture."}
    if attachments is not None:
        payload["attachments"] = attachments
    response = await api.post(TICKETS, headers=project.headers, json=payload)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def _reply(
    api: httpx.AsyncClient,
    project: ApiProject,
    ticket_id: str,
    attachments: list[str],
    **headers: str,
) -> httpx.Response:
    return await api.post(
        f"{TICKETS}/{ticket_id}/messages",
        headers={**project.headers, **headers},
        json={"body": "Here is the full request body and a HAR file.", "attachments": attachments},
    )


async def test_a_har_attached_to_a_reply_shows_what_was_removed(
    api: httpx.AsyncClient, project: ApiProject
) -> None:
    """The README's walk-through: upload, attach to a reply, see the redactions, download."""
    har = capture(entries=2)
    ticket = await _ticket(api, project)
    file = await uploaded(api, project.headers, "checkout.har", har.content)

    reply = await _reply(api, project, ticket["id"], [file["id"]])

    assert reply.status_code == 200, reply.text
    message = reply.json()["messages"][-1]
    [attachment] = message["attachments"]
    assert attachment == {
        "id": file["id"],
        "filename": "checkout.har",
        "size": file["size"],
        "content_type": "application/har+json",
        "redactions": file["redactions"],
    }
    assert attachment["redactions"]["cookies"] > 0
    assert attachment["redactions"]["jwts"] > 0
    again = await api.get(f"{TICKETS}/{ticket['id']}", headers=project.headers)
    assert again.json()["messages"][-1]["attachments"] == [attachment]
    download = await api.get(f"{FILES_PATH}/{file['id']}/content", headers=project.headers)
    assert all(secret not in download.text for secret in har.secrets)


async def test_files_on_a_new_ticket(api: httpx.AsyncClient, project: ApiProject) -> None:
    first = await uploaded(api, project.headers, "one.png", PNG)
    second = await uploaded(api, project.headers, "two.txt", b"second file")

    ticket = await _ticket(api, project, [first["id"], second["id"]])

    names = [a["filename"] for a in ticket["messages"][0]["attachments"]]
    assert names == ["one.png", "two.txt"]


async def test_the_team_attaches_to_replies_and_notes(
    api: httpx.AsyncClient, project: ApiProject, staff: StaffUser
) -> None:
    ticket = await _ticket(api, project)
    team_files = f"{STAFF}/tickets/{ticket['id']}/files"
    public = (await upload(api, staff.headers, "fix.txt", b"apply this", path=team_files)).json()
    note = (await upload(api, staff.headers, "notes.txt", b"internal", path=team_files)).json()
    # Before it is attached, the team's upload is not the customer's to see.
    hidden = await api.get(f"{FILES_PATH}/{public['id']}", headers=project.headers)
    assert hidden.status_code == 404

    replied = await api.post(
        f"{STAFF}/tickets/{ticket['id']}/messages",
        headers=staff.headers,
        json={"body": "Here is the fix.", "attachments": [public["id"]]},
    )
    noted = await api.post(
        f"{STAFF}/tickets/{ticket['id']}/messages",
        headers=staff.headers,
        json={"body": "Root cause.", "internal": True, "attachments": [note["id"]]},
    )

    assert replied.status_code == noted.status_code == 200, (replied.text, noted.text)
    staff_view = noted.json()["messages"]
    assert [m["attachments"][0]["id"] for m in staff_view[1:]] == [public["id"], note["id"]]
    customer_view = (await api.get(f"{TICKETS}/{ticket['id']}", headers=project.headers)).json()
    assert [len(m["attachments"]) for m in customer_view["messages"]] == [0, 1]
    seen = await api.get(f"{FILES_PATH}/{public['id']}/content", headers=project.headers)
    assert seen.content == b"apply this"
    # An internal note's file is never the customer's, even by its id.
    for suffix in ("", "/content"):
        answer = await api.get(f"{FILES_PATH}/{note['id']}{suffix}", headers=project.headers)
        assert answer.status_code == 404
    team = await api.get(f"{STAFF}/files/{note['id']}/content", headers=staff.headers)
    assert team.content == b"internal"


async def test_each_side_attaches_only_its_own_uploads(
    api: httpx.AsyncClient, project: ApiProject, other_project: ApiProject, staff: StaffUser
) -> None:
    ticket = await _ticket(api, project)
    other_ticket = await _ticket(api, project)
    mine = await uploaded(api, project.headers, "mine.txt", b"customer file")
    foreign = await uploaded(api, other_project.headers, "theirs.txt", b"other project")
    team = (
        await upload(
            api, staff.headers, "t.txt", b"team", path=f"{STAFF}/tickets/{ticket['id']}/files"
        )
    ).json()

    foreign_reply = await _reply(api, project, ticket["id"], [foreign["id"]])
    team_file_by_customer = await _reply(api, project, ticket["id"], [team["id"]])
    unknown = await _reply(api, project, ticket["id"], ["file_" + "0" * 26])
    malformed = await _reply(api, project, ticket["id"], ["not-a-file"])
    too_many = await _reply(api, project, ticket["id"], [mine["id"]] * 11)
    customer_file_by_team = await api.post(
        f"{STAFF}/tickets/{ticket['id']}/messages",
        headers=staff.headers,
        json={"body": "x", "attachments": [mine["id"]]},
    )
    team_file_elsewhere = await api.post(
        f"{STAFF}/tickets/{other_ticket['id']}/messages",
        headers=staff.headers,
        json={"body": "x", "attachments": [team["id"]]},
    )

    for refused in (foreign_reply, team_file_by_customer, unknown):
        assert refused.status_code == 400, refused.text
        assert refused.json()["error"]["code"] == "resource_missing"
        assert refused.json()["error"]["param"] == "attachments.0"
    for refused in (customer_file_by_team, team_file_elsewhere):
        assert refused.status_code == 400, refused.text
    assert malformed.json()["error"]["code"] == "parameter_invalid"
    assert too_many.status_code == 400
    after = (await api.get(f"{TICKETS}/{ticket['id']}", headers=project.headers)).json()
    assert after["message_count"] == 1  # nothing was added


async def test_a_file_belongs_to_one_message(
    api: httpx.AsyncClient, db: AsyncDatabase[Document], project: ApiProject
) -> None:
    ticket, other = await _ticket(api, project), await _ticket(api, project)
    file = await uploaded(api, project.headers, "trace.txt", b"once")
    twice_in_one = await _reply(api, project, ticket["id"], [file["id"], file["id"]])
    assert twice_in_one.status_code == 409
    assert twice_in_one.json()["error"]["code"] == "file_already_attached"

    first = await _reply(api, project, ticket["id"], [file["id"]])
    again = await _reply(api, project, ticket["id"], [file["id"]])
    elsewhere = await _reply(api, project, other["id"], [file["id"]])

    assert first.status_code == 200
    for refused in (again, elsewhere):
        assert refused.status_code == 409, refused.text
        error = refused.json()["error"]
        assert (error["type"], error["code"]) == ("conflict_error", "file_already_attached")
        assert error["param"] == "attachments.0"
        assert "one message only" in error["message"]
    claim = await db[CLAIMS].find_one({"_id": file["id"]})
    assert claim is not None
    assert claim["message_id"] == first.json()["messages"][-1]["id"]
    assert (await api.get(f"{TICKETS}/{other['id']}", headers=project.headers)).json()[
        "message_count"
    ] == 1


async def test_two_messages_racing_for_one_file_one_gets_it(
    api: httpx.AsyncClient, project: ApiProject
) -> None:
    tickets = [await _ticket(api, project) for _ in range(4)]
    file = await uploaded(api, project.headers, "race.txt", b"contested")

    answers = await asyncio.gather(*(_reply(api, project, t["id"], [file["id"]]) for t in tickets))

    assert sorted(a.status_code for a in answers) == [200, 409, 409, 409]
    holders = [
        t
        for t in tickets
        if (await api.get(f"{TICKETS}/{t['id']}", headers=project.headers)).json()["messages"][-1][
            "attachments"
        ]
    ]
    assert len(holders) == 1


async def test_a_retried_reply_keeps_its_files(api: httpx.AsyncClient, project: ApiProject) -> None:
    ticket = await _ticket(api, project)
    file = await uploaded(api, project.headers, "retry.txt", b"retry")
    key = secrets.token_hex(8)

    first = await _reply(api, project, ticket["id"], [file["id"]], **{"Idempotency-Key": key})
    second = await _reply(api, project, ticket["id"], [file["id"]], **{"Idempotency-Key": key})

    assert first.status_code == second.status_code == 200
    assert second.headers["Idempotent-Replayed"] == "true"
    assert second.json() == first.json()


async def test_a_refused_reply_leaves_its_file_free(
    api: httpx.AsyncClient, project: ApiProject
) -> None:
    closed = await _ticket(api, project)
    await api.patch(f"{TICKETS}/{closed['id']}", headers=project.headers, json={"status": "closed"})
    file = await uploaded(api, project.headers, "later.txt", b"later")

    refused = await _reply(api, project, closed["id"], [file["id"]])
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "ticket_closed"

    follow_up = await _ticket(api, project, [file["id"]])
    assert follow_up["messages"][0]["attachments"][0]["id"] == file["id"]


async def test_events_carry_the_files_metadata_and_the_email_their_names(
    api: httpx.AsyncClient,
    db: AsyncDatabase[Document],
    project: ApiProject,
    events: EventQueue,
) -> None:
    ticket = await _ticket(api, project)
    file = await uploaded(api, project.headers, "checkout.har", capture(entries=1).content)

    reply = await _reply(api, project, ticket["id"], [file["id"]])
    message_id = reply.json()["messages"][-1]["id"]

    event = await events.event(ticket["id"], "ticket.message_added")
    ref = event["data"]["message"]
    assert ref["id"] == message_id
    assert ref["attachment_count"] == 1
    assert ref["attachments"] == [
        {
            "id": file["id"],
            "filename": None,  # free text: only in events when the API includes text
            "content_type": "application/har+json",
            "size": file["size"],
            "redactions": file["redactions"],
        }
    ]
    live = await TicketReader(db).live(ticket["id"], message_id)
    assert live is not None
    assert live.message is not None
    assert live.message.attachment_names == ("checkout.har",)
