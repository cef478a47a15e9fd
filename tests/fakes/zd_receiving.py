"""The receiving side of the fake Zustelldienst: lists, downloads, event logs, posted events.

A mix-in of `tests.fakes.zustelldienst.Zustelldienst` (one module per side, so neither grows past
what a reader can hold); the state and the sending side live there. Sources in README.md.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiohttp import web
from joserfc.jwk import RSAKey

from tests.fakes import zd_rules as rules

if TYPE_CHECKING:
    from tests.fakes.zd_state import FakeSubmission
    from tests.fakes.zustelldienst import Zustelldienst

CLIENT_ID = "sender-client"
CLIENT = web.RequestKey("client", str)
PAGE_MAX = 500  # every FIT-Connect list: limit 1…500 (routing-api.yaml ``limit``)


class ReceivingSide:
    def _page(self: Zustelldienst, request: web.Request) -> tuple[int, int] | web.Response:
        try:
            offset = int(request.query.get("offset", "0"))
            limit = int(request.query.get("limit", "100"))
        except ValueError:
            return self._refuse(request, 400, "offset and limit are integers")
        if offset < 0 or not 1 <= limit <= PAGE_MAX:
            return self._refuse(request, 400, "limit must be 1…500")
        return offset, limit

    async def _list(self: Zustelldienst, request: web.Request) -> web.Response:
        if (refused := self._role(request, "subscriber")) is not None:
            return refused
        page = self._page(request)
        if isinstance(page, web.Response):
            return page
        offset, limit = page
        destination_id = request.query.get("destinationId")
        pending = [
            {"destinationId": s.destination_id, "submissionId": s.id, "caseId": s.case_id}
            for s in self.submissions.values()
            if s.submitted and s.destination_id == destination_id and not self._finished(s)
        ]
        chosen = pending[offset : offset + limit]
        return web.json_response(
            {
                "offset": offset,
                "count": len(chosen),
                "totalCount": len(pending),
                "submissions": chosen,
            }
        )

    def _finished(self: Zustelldienst, submission: FakeSubmission) -> bool:
        names = self.event_names(submission.case_id)
        return "accept-submission" in names or "reject-submission" in names

    async def _fetch(self: Zustelldienst, request: web.Request) -> web.Response:
        if (refused := self._role(request, "subscriber")) is not None:
            return refused
        s = self._submission(request)
        if not s.submitted:
            return self._refuse(request, 404, "not submitted")
        document: dict[str, Any] = {
            "destinationId": s.destination_id,
            "submissionId": s.id,
            "caseId": s.case_id,
            "attachments": s.announced,
            "encryptedMetadata": s.encrypted_metadata,
            "publicService": s.public_service,
        }
        if s.encrypted_data is not None:
            document["encryptedData"] = s.encrypted_data
        if s.region is not None:
            document["region"] = s.region
        return web.json_response(document)

    async def _download(self: Zustelldienst, request: web.Request) -> web.Response:
        if (refused := self._role(request, "subscriber")) is not None:
            return refused
        s = self._submission(request)
        token = s.attachments.get(request.match_info["aid"])
        if token is None:
            raise web.HTTPNotFound()
        return web.Response(text=token, content_type="application/jose")

    async def _event_log(self: Zustelldienst, request: web.Request) -> web.Response:
        page = self._page(request)
        if isinstance(page, web.Response):
            return page
        offset, limit = page
        case_id = request.match_info["id"]
        submission = next((s for s in self.submissions.values() if s.case_id == case_id), None)
        if submission is None:
            raise web.HTTPNotFound()
        if request[CLIENT] == CLIENT_ID and submission.sender != CLIENT_ID:
            return self._refuse(request, 403, "not the sender of this case")
        log = self.events.get(case_id, [])
        chosen = log[offset : offset + limit]
        return web.json_response(
            {"offset": offset, "count": len(chosen), "totalCount": len(log), "eventLog": chosen}
        )

    async def _post_event(self: Zustelldienst, request: web.Request) -> web.Response:
        if (refused := self._role(request, "subscriber")) is not None:
            return refused
        case_id = request.match_info["id"]
        submission = next((s for s in self.submissions.values() if s.case_id == case_id), None)
        if submission is None:
            raise web.HTTPNotFound()
        if self.event_posts_failing > 0:
            self.event_posts_failing -= 1
            return web.json_response({"title": "simulated"}, status=503)
        if request.content_type != "application/jose":
            return self._refuse(request, 415, "events are application/jose")
        token = await request.text()
        destination = self.destinations[submission.destination_id]
        try:
            kid = rules.b64json(token.split(".")[0]).get("kid")
        except (ValueError, AttributeError):
            return self._refuse(request, 422, "SET header unreadable")
        jwk = destination.signature_keys.get(kid)
        if jwk is None:
            return self._refuse(request, 422, "SET kid is no signature key of the destination")
        claims, problem = rules.set_claims(
            token, RSAKey.import_key({k: v for k, v in jwk.items() if k != "key_ops"})
        )
        if problem is None and claims is not None:
            problem = rules.event_problem(
                claims,
                destination_id=destination.id,
                submission_id=submission.id,
                case_id=case_id,
                tags=submission.tags,
            )
        if problem is not None:
            return self._refuse(request, 422, problem)
        self.log_event(submission, token)
        return web.Response(status=204)
