"""Tugi's HTTP side: the widget's public API, the presence WebSocket, the back-office and courier API.

Nothing here decides anything: handlers validate what comes in, call the history, masking,
presence and token services handed over in `WebServices`, and shape what goes out.
`web.app.build_app` wires it; `web.server.start` serves it without aiohttp's access log.
"""
