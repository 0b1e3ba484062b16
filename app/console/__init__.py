"""The console: a web UI for admins and analysts at ``/ui/``, served by the gateway itself.

Server-rendered HTML (MiniJinja, autoescaped: labels, prompts and outputs are user data), plain
forms that post and redirect, charts drawn as inline SVG on the server, and one small static
script for confirmations. Nothing is fetched from another origin (the Content-Security-Policy
says ``'self'`` only) and nothing needs a Node build. See docs/console.md.

Every page needs a signed-in admin; every POST carries the session's CSRF token. The console
calls the same services as the admin API, so an edit made here is validated, versioned and
audited exactly like one made with curl.
"""
