"""Uploads: HAR captures lose every secret before they are stored, the rest stays; refused files
and oversized ones leave nothing behind; a 25 MB upload streams; a file is its project's only."""

import hashlib
import json
import secrets

import httpx
import pytest
from pymongo.asynchronous.database import AsyncDatabase
from zumik_api.bootstrap import Runtime
from zumik_files.store import CHUNKS, FileStore, QuotaExceeded, Upload
from zumik_store.mongo import Document

from tests.conftest import ApiProject
from tests.integration.files.har import capture, jwt
from tests.integration.files.helpers import (
    FILES_PATH,
    PNG,
    form_around,
    store_counts,
    stream_body,
    upload,
    uploaded,
    zip_like,
)

MAX = 25 * 1024 * 1024


async def test_a_har_loses_every_secret_and_keeps_the_rest(
    api: httpx.AsyncClient, project: ApiProject
) -> None:
    har = capture(entries=3)

    response = await upload(api, project.headers, "checkout.har", har.content)

    assert response.status_code == 201, response.text
    file = response.json()
    assert file["object"] == "file"
    assert file["id"].startswith("file_")
    assert file["filename"] == "checkout.har"
    assert file["content_type"] == "application/har+json"
    redactions = file["redactions"]
    for kind in ("headers", "cookies", "query_params", "body_fields", "jwts", "api_keys"):
        assert redactions.get(kind, 0) > 0, (kind, redactions)

    download = await api.get(f"{FILES_PATH}/{file['id']}/content", headers=project.headers)
    assert download.status_code == 200
    stored = download.content
    text = stored.decode()
    for secret in har.secrets:
        assert secret not in text, secret
    for kept in har.kept:
        assert kept in text, kept
    assert "[REDACTED]" in text
    parsed = json.loads(stored)  # still a HAR
    assert len(parsed["log"]["entries"]) == 9
    assert parsed["log"]["entries"][1]["request"]["cookies"][1] == {
        "name": "theme",
        "value": "[REDACTED]",
    }
    assert download.headers["content-type"] == "application/har+json"
    assert download.headers["content-disposition"] == 'attachment; filename="checkout.har"'
    assert download.headers["x-content-type-options"] == "nosniff"
    assert int(download.headers["content-length"]) == file["size"] == len(stored)
    assert hashlib.sha256(stored).hexdigest() == file["sha256"]

    metadata = await api.get(f"{FILES_PATH}/{file['id']}", headers=project.headers)
    assert metadata.status_code == 200
    assert metadata.json() == file


async def test_a_binary_file_is_stored_byte_for_byte(
    api: httpx.AsyncClient, project: ApiProject
) -> None:
    file = await uploaded(api, project.headers, "screen shot.png", PNG)

    assert file["content_type"] == "image/png"
    assert file["redactions"] is None
    assert file["size"] == len(PNG)
    download = await api.get(f"{FILES_PATH}/{file['id']}/content", headers=project.headers)
    assert download.content == PNG
    assert download.headers["content-disposition"] == 'attachment; filename="screen shot.png"'


async def test_a_log_loses_its_jwts_and_keys(api: httpx.AsyncClient, project: ApiProject) -> None:
    token, key = jwt("log"), f"zsk_{secrets.token_urlsafe(20)}"
    log = f"2026-11-26 INFO request ok\n2026-11-26 DEBUG auth={token} key={key}\n".encode()

    file = await uploaded(api, project.headers, "api.log", log)

    assert file["content_type"] == "text/plain; charset=utf-8"
    assert file["redactions"] == {"jwts": 1, "api_keys": 1}
    download = await api.get(f"{FILES_PATH}/{file['id']}/content", headers=project.headers)
    assert (
        download.content
        == b"2026-11-26 INFO request ok\n2026-11-26 DEBUG auth=[REDACTED] key=[REDACTED]\n"
    )


async def test_a_name_outside_ascii_is_kept_for_the_download(
    api: httpx.AsyncClient, project: ApiProject
) -> None:
    file = await uploaded(api, project.headers, "trace été.txt", b"plain text")

    download = await api.get(f"{FILES_PATH}/{file['id']}/content", headers=project.headers)
    assert download.headers["content-disposition"] == (
        "attachment; filename=\"trace _t_.txt\"; filename*=UTF-8''trace%20%C3%A9t%C3%A9.txt"
    )


async def test_refused_files_leave_nothing(
    api: httpx.AsyncClient, db: AsyncDatabase[Document], project: ApiProject
) -> None:
    before = await store_counts(db, project.id)
    refused = [
        ("tool.exe", b"MZ\x90\x00" + b"\x00" * 5000, "file_type_not_allowed"),
        ("page.txt", b"<html><script>alert(1)</script></html>", "file_type_not_allowed"),
        ("logo.svg", b"<svg xmlns='http://www.w3.org/2000/svg'/>", "file_type_not_allowed"),
        ("data.gz", b"\x1f\x8b\x08\x00" + b"\x00" * 100, "file_type_not_allowed"),
        ("empty.txt", b"", "file_type_not_allowed"),
        ("broken.har", capture(entries=1).content[:-40], "invalid_har"),
        ("not-a-har.har", b'{"log": {"entries": 3}}', "invalid_har"),
    ]
    for name, content, code in refused:
        response = await upload(api, project.headers, name, content)
        assert response.status_code == 400, (name, response.text)
        error = response.json()["error"]
        assert (error["code"], error["param"]) == (code, "file"), name
        assert "REDACTED" not in error["message"]
    assert await store_counts(db, project.id) == before


async def test_a_malformed_form_leaves_nothing(
    api: httpx.AsyncClient, db: AsyncDatabase[Document], project: ApiProject
) -> None:
    before = await store_counts(db, project.id)
    missing_purpose = await upload(api, project.headers, "a.txt", b"hello", purpose=None)
    wrong_purpose = await upload(api, project.headers, "a.txt", b"hello", purpose="avatar")
    not_a_form = await api.post(FILES_PATH, headers=project.headers, json={"file": "hello"})
    unknown_field = await api.post(
        FILES_PATH,
        headers=project.headers,
        data={"purpose": "support_attachment", "note": "x"},
        files={"file": ("a.txt", b"hello", "text/plain")},
    )
    # `purpose` after the file: found wrong only once the file is stored, which then goes.
    parts = [
        b'--b\r\nContent-Disposition: form-data; name="file"; filename="a.txt"\r\n\r\nhello\r\n'
        b'--b\r\nContent-Disposition: form-data; name="purpose"\r\n\r\nnope\r\n--b--\r\n'
    ]
    late_purpose = await api.post(
        FILES_PATH,
        headers={**project.headers, "Content-Type": "multipart/form-data; boundary=b"},
        content=parts[0],
    )
    truncated = await api.post(
        FILES_PATH,
        headers={**project.headers, "Content-Type": "multipart/form-data; boundary=b"},
        content=parts[0][:60],
    )

    assert (missing_purpose.status_code, missing_purpose.json()["error"]["code"]) == (
        400,
        "parameter_missing",
    )
    assert missing_purpose.json()["error"]["param"] == "purpose"
    assert wrong_purpose.json()["error"]["param"] == "purpose"
    assert not_a_form.json()["error"]["code"] == "invalid_content_type"
    assert unknown_field.json()["error"]["code"] == "parameter_unknown"
    assert late_purpose.status_code == 400
    assert late_purpose.json()["error"]["param"] == "purpose"
    assert truncated.json()["error"]["code"] == "invalid_multipart"
    assert await store_counts(db, project.id) == before


async def test_25_mb_streams_in_and_out(
    api: httpx.AsyncClient, runtime: Runtime, project: ApiProject
) -> None:
    parts, content_type = form_around("dump.zip")

    response = await api.post(
        FILES_PATH,
        headers={**project.headers, "Content-Type": content_type},
        content=stream_body(parts, zip_like(MAX)),
        timeout=120,
    )

    assert response.status_code == 201, response.text
    file = response.json()
    assert (file["size"], file["content_type"]) == (MAX, "application/zip")
    digest = hashlib.sha256()
    async for piece in zip_like(MAX):
        digest.update(piece)
    assert file["sha256"] == digest.hexdigest()
    downloaded = hashlib.sha256()
    size = 0
    async with api.stream(
        "GET", f"{FILES_PATH}/{file['id']}/content", headers=project.headers, timeout=120
    ) as download:
        assert download.status_code == 200
        async for piece in download.aiter_bytes():
            downloaded.update(piece)
            size += len(piece)
    assert (size, downloaded.hexdigest()) == (MAX, file["sha256"])
    await runtime.file_store.delete(file["id"])  # the shared database stays small


async def test_one_byte_over_25_mb_is_413_and_leaves_nothing(
    api: httpx.AsyncClient, db: AsyncDatabase[Document], project: ApiProject
) -> None:
    before = await store_counts(db, project.id)
    parts, content_type = form_around("dump.zip")

    streamed = await api.post(
        FILES_PATH,
        headers={**project.headers, "Content-Type": content_type},
        content=stream_body(parts, zip_like(MAX + 1)),
        timeout=120,
    )
    declared = await api.post(
        FILES_PATH,
        headers={
            **project.headers,
            "Content-Type": content_type,
            "Content-Length": str(MAX + 1024 * 1024),
        },
        content=b"",
    )

    assert streamed.status_code == 413, streamed.text
    assert streamed.json()["error"]["code"] == "file_too_large"
    assert "26,214,400 bytes" in streamed.json()["error"]["message"]
    assert declared.status_code == 413
    assert await store_counts(db, project.id) == before


async def test_another_projects_file_is_404_like_no_file(
    api: httpx.AsyncClient, project: ApiProject, other_project: ApiProject
) -> None:
    file = await uploaded(api, project.headers, "notes.txt", b"mine")
    unknown = "file_" + "0" * 26

    answers = [
        await api.get(f"{FILES_PATH}/{file_id}{suffix}", headers=other_project.headers)
        for file_id in (file["id"], unknown)
        for suffix in ("", "/content")
    ]

    assert [a.status_code for a in answers] == [404] * 4
    assert len({json.dumps(a.json()) for a in answers}) == 1
    assert answers[0].json()["error"]["message"] == "No such file."


async def test_the_project_quota_refuses_what_would_exceed_it(
    db: AsyncDatabase[Document],
) -> None:
    store = FileStore(db, project_quota_bytes=10_000, max_file_bytes=8_000)
    project_id = f"prj_quota_{secrets.token_hex(4)}"

    async def content(size: int) -> object:
        yield b"x" * size

    first = await store.upload(
        Upload(f"file_q1{secrets.token_hex(8)}", project_id, "a.txt", None, "customer"),
        content(6_000),  # type: ignore[arg-type]
    )
    with pytest.raises(QuotaExceeded) as exceeded:
        await store.upload(
            Upload(f"file_q2{secrets.token_hex(8)}", project_id, "b.txt", None, "customer"),
            content(6_000),  # type: ignore[arg-type]
        )
    assert (exceeded.value.quota, exceeded.value.used) == (10_000, 6_000)
    assert await store.usage(project_id) == 6_000
    assert await db[CHUNKS].count_documents({"files_id": {"$regex": "^file_q2"}}) == 0
    await store.delete(first.id)
