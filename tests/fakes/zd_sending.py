"""The sending side of the fake Zustelldienst: announce, upload, submit (sources in README.md).

A mix-in of `tests.fakes.zustelldienst.Zustelldienst`, like `zd_receiving`.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

from aiohttp import web

from tests.fakes import zd_rules as rules
from tests.fakes.zd_receiving import CLIENT
from tests.fakes.zd_state import FakeSubmission

if TYPE_CHECKING:
    from tests.fakes.zustelldienst import Zustelldienst

NEW_SUBMISSIONS = "https://schema.fitko.de/fit-connect/submission-api/callbacks/new-submissions"


class SendingSide:
    async def _create(self: Zustelldienst, request: web.Request) -> web.Response:
        if (refused := self._role(request, "sender")) is not None:
            return refused
        if request.content_type != "application/json":
            return self._refuse(request, 415, "create submission takes application/json")
        body = await request.json()
        destination = self.destinations.get(str(body.get("destinationId")))
        if destination is None:
            return self._refuse(request, 404, "unknown destination")
        if destination.status != "active":
            return self._refuse(request, 422, "destination not active")
        problem = rules.announce_problem(body, destination.public_services, self.max_attachments)
        if problem is not None:
            return self._refuse(request, *problem)
        submission = FakeSubmission(
            id=str(uuid.uuid4()),
            case_id=str(uuid.uuid4()),
            destination_id=destination.id,
            sender=request[CLIENT],
            announced=list(body["announcedAttachments"]),
            public_service=dict(body["publicService"]),
            region=body.get("region"),
            callback=body.get("callbackInfo"),
        )
        self.submissions[submission.id] = submission
        self.log_event(submission, self.sign_event(submission, "create-submission", {}, self.key))
        return web.json_response(
            {
                "destinationId": destination.id,
                "submissionId": submission.id,
                "caseId": submission.case_id,
            },
            status=201,
        )

    async def _upload(self: Zustelldienst, request: web.Request) -> web.Response:
        if (refused := self._role(request, "sender")) is not None:
            return refused
        submission = self._submission(request)
        attachment_id = request.match_info["aid"]
        if attachment_id not in submission.announced or submission.submitted:
            return self._refuse(request, 404, "attachment not announced")
        if request.content_type != "application/jose":
            return self._refuse(request, 415, "attachments are application/jose")
        if (request.content_length or 0) > self.max_upload_bytes * 4 // 3 + 4096:
            return self._refuse(request, 413, "attachment upload too large")
        token = await request.text()
        kid = self.destinations[submission.destination_id].encryption_key["kid"]
        if (problem := rules.jwe_problem(token, kid=kid)) is not None:
            return self._refuse(request, 422, problem)
        submission.attachments[attachment_id] = token
        return web.Response(status=204)

    async def _submit(self: Zustelldienst, request: web.Request) -> web.Response:
        if (refused := self._role(request, "sender")) is not None:
            return refused
        submission = self._submission(request)
        if submission.submitted:
            return self._refuse(request, 409, "already submitted")
        body = await request.json()
        if set(submission.announced) - set(submission.attachments):
            return self._refuse(request, 422, "announced attachments missing")
        kid = self.destinations[submission.destination_id].encryption_key["kid"]
        for name in ("encryptedMetadata", "encryptedData"):
            problem = rules.jwe_problem(body.get(name), kid=kid, ctys=rules.DOCUMENT_CTYS)
            if problem is not None:
                return self._refuse(request, 422, f"{name}: {problem}")
        submission.encrypted_metadata = body["encryptedMetadata"]
        submission.encrypted_data = body["encryptedData"]
        payload = rules.authentication_tags(
            submission.encrypted_metadata, body["encryptedData"], submission.attachments
        )
        submission.tags = payload["authenticationTags"]
        self.log_event(
            submission, self.sign_event(submission, "submit-submission", payload, self.key)
        )
        destination = self.destinations[submission.destination_id]
        if destination.callback is not None:
            url, secret = destination.callback
            await self.send_callback(
                url, secret, {"type": NEW_SUBMISSIONS, "submissionIds": [submission.id]}
            )
        return web.json_response({"submissionId": submission.id}, status=200)
