"""The coordinators' dashboard at ``/ui/``: server-rendered HTML, inline SVG, no scripts.

Sign-in with an API key (roles coordinator, operator, tenant) into a signed session cookie; see
`ozgbridge.ui.sessions`. A tenant key sees only its own tenant's figures, exactly as in the API.
`ozgbridge.ui.routes.setup_ui` adds the pages to the API application.
"""
