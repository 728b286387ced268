"""The API described for people and tools: an OpenAPI 3.1 document, written by hand.

Written rather than generated, so each description says what a reader needs (who may call,
what is masked, what each error means). A unit test checks that every registered route is
described here and that the document is valid OpenAPI 3.1.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from history.records import Channel, Disposition
from routing.presence import PUBLIC_STATES, SelfStatus
from web.access import Access, Endpoint

Schema = dict[str, Any]

VERSION = "1.0.0"


def _ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def _nullable(schema: Schema) -> Schema:
    return {"anyOf": [schema, {"type": "null"}]}


def _json(schema: Schema, description: str) -> Schema:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _body(name: str, description: str) -> Schema:
    return {"required": True, "description": description, "content": {"application/json": {"schema": _ref(name)}}}


def _errors(*codes: int) -> dict[str, Schema]:
    names = {
        400: "BadRequest", 401: "Unauthorized", 403: "Forbidden", 404: "NotFound", 409: "Conflict",
        415: "UnsupportedMediaType", 429: "TooManyRequests", 503: "NotConfigured",
    }
    return {str(code): {"$ref": f"#/components/responses/{names[code]}"} for code in codes}


def _param(name: str) -> Schema:
    return {"$ref": f"#/components/parameters/{name}"}


STRING = {"type": "string"}
TIME = {"type": "string", "format": "date-time"}
OPT_TIME = _nullable(TIME)
OPT_STRING = _nullable(STRING)
NUMBER = {"type": "number"}
STATE = {"type": "string", "enum": list(PUBLIC_STATES)}
BACK_OFFICE: list[Schema] = [{"backOffice": []}]
PUBLIC: list[Schema] = []
ORIGIN_NOTE = (
    " Public: no token. The `Origin` header must be one of `http.allowed_origins` (403 otherwise;"
    " a GET may come without one), and each source address has a request budget (429 with"
    " `Retry-After` when spent)."
)

_CALL_PROPERTIES: Schema = {
    "id": {"type": "integer"},
    "kind": STRING,
    "channel": {"type": "string", "enum": [c.value for c in Channel]},
    "natural_key": STRING,
    "started_at": TIME,
    "answered_at": OPT_TIME,
    "ended_at": OPT_TIME,
    "disposition": {"type": "string", "enum": [d.value for d in Disposition]},
    "answered_by": {**OPT_STRING, "description": "staff id, or 'outsourced'"},
    "customer_id": OPT_STRING,
    "case_id": OPT_STRING,
    "order_ref": OPT_STRING,
    "page_ref": OPT_STRING,
    "caller_kind": STRING,
    "caller_ref": OPT_STRING,
    "caller_number": {**OPT_STRING, "description": "masked (+372•••••01) unless include_numbers=1"},
    "callee_number": {**OPT_STRING, "description": "masked unless include_numbers=1"},
    "route": {"type": "array", "items": STRING},
    "targets_tried": {"type": "array", "items": STRING},
    "queue_seconds": NUMBER,
    "talk_seconds": NUMBER,
    "wait_seconds": NUMBER,
    "transfers": {"type": "integer"},
    "source": STRING,
    "extra": {"type": "object", "additionalProperties": STRING},
    "erased": {"type": "boolean"},
    "erased_at": OPT_TIME,
    "created_at": OPT_TIME,
}

SCHEMAS: dict[str, Schema] = {
    "Error": {
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {"type": "string", "description": "what was wrong and what to do about it"},
            "field": {"type": "string", "description": "the request field or parameter at fault"},
        },
    },
    "Call": {"type": "object", "required": ["id", "channel", "started_at", "disposition"],
             "properties": _CALL_PROPERTIES},
    "Leg": {
        "type": "object",
        "properties": {
            "uniqueid": STRING,
            "party_kind": STRING,
            "party_ref": OPT_STRING,
            "started_at": TIME,
            "answered_at": OPT_TIME,
            "ended_at": OPT_TIME,
            "outcome": STRING,
            "hangup_cause": _nullable({"type": "integer"}),
            "is_caller": {"type": "boolean"},
            "transferred_to": OPT_STRING,
            "ring_seconds": NUMBER,
            "talk_seconds": NUMBER,
            "hold_seconds": NUMBER,
        },
    },
    "CallDetail": {
        "allOf": [
            _ref("Call"),
            {
                "type": "object",
                "properties": {
                    "legs": {"type": "array", "items": _ref("Leg")},
                    "uniqueids": {"type": "array", "items": STRING},
                },
            },
        ]
    },
    "CallList": {
        "type": "object",
        "properties": {
            "calls": {"type": "array", "items": _ref("Call")},
            "limit": {"type": "integer"},
            "offset": {"type": "integer"},
            "count": {"type": "integer", "description": "calls in this page"},
        },
    },
    "Timeline": {
        "type": "object",
        "properties": {
            "customer_id": STRING,
            "erased": {"type": "boolean"},
            "interactions": {
                "type": "array",
                "items": {
                    "allOf": [
                        _ref("Call"),
                        {"type": "object", "properties": {"case": _nullable({"type": "object"})}},
                    ]
                },
            },
        },
    },
    "Stats": {
        "type": "object",
        "description": "inbound web and phone calls started in [since, until); refused calls not counted",
        "properties": {
            "since": TIME,
            "until": TIME,
            "timezone": STRING,
            "answered_within_seconds": NUMBER,
            "offered": {"type": "integer"},
            "answered": {"type": "integer"},
            "answered_in_time": {"type": "integer"},
            "abandoned": {"type": "integer"},
            "service_level": _nullable(NUMBER),
            "abandonment_rate": _nullable(NUMBER),
            "avg_wait_seconds": _nullable(NUMBER),
            "avg_talk_seconds": _nullable(NUMBER),
            "by_hour": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "hour": {"type": "integer", "minimum": 0, "maximum": 23},
                        "offered": {"type": "integer"},
                        "answered": {"type": "integer"},
                        "abandoned": {"type": "integer"},
                    },
                },
            },
        },
    },
    "MaskingSessionCreate": {
        "type": "object",
        "additionalProperties": False,
        "required": ["order_ref", "customer_ref", "customer_number", "courier_ref", "courier_number"],
        "properties": {
            "order_ref": {"type": "string", "pattern": "^[A-Za-z0-9._:/-]{1,64}$"},
            "customer_ref": {"type": "string", "pattern": "^[A-Za-z0-9._:/-]{1,64}$"},
            "customer_number": {"type": "string", "examples": ["+372 5123 4567"],
                                "description": "a mobile or landline number in shop.allowed_regions"},
            "courier_ref": {"type": "string", "pattern": "^[A-Za-z0-9._:/-]{1,64}$"},
            "courier_number": {"type": "string", "examples": ["+372 5234 5678"]},
            "case_ref": {"type": "string", "pattern": "^[A-Za-z0-9._:/-]{1,64}$"},
            "ttl_hours": {"type": "number", "exclusiveMinimum": 0, "maximum": 2160,
                          "description": "defaults to masking.session_ttl_hours"},
        },
    },
    "MaskingSessionCreated": {
        "type": "object",
        "required": ["id", "proxy_number", "customer_dials", "courier_dials", "expires_at"],
        "properties": {
            "id": STRING,
            "proxy_number": STRING,
            "pin": {**OPT_STRING, "description": "set in single-number mode: both parties key it in"},
            "customer_dials": {"type": "string", "description": "the proxy number, then ',,' and the PIN if any"},
            "courier_dials": {"type": "string", "description": "the proxy number, then ',,' and the PIN if any"},
            "expires_at": TIME,
        },
    },
    "MaskingParty": {
        "type": "object",
        "properties": {
            "ref": STRING,
            "number": {**OPT_STRING, "description": "masked unless include_numbers=1; null once erased"},
        },
    },
    "MaskingSession": {
        "type": "object",
        "properties": {
            "id": STRING,
            "state": {"type": "string", "enum": ["live", "closed", "expired"]},
            "order_ref": STRING,
            "case_ref": OPT_STRING,
            "customer": _ref("MaskingParty"),
            "courier": _ref("MaskingParty"),
            "proxy_number": STRING,
            "pin": OPT_STRING,
            "customer_dials": STRING,
            "courier_dials": STRING,
            "created_at": TIME,
            "expires_at": TIME,
            "closed_at": OPT_TIME,
            "erased": {"type": "boolean"},
        },
    },
    "OrderSessions": {
        "type": "object",
        "properties": {"order_ref": STRING, "sessions": {"type": "array", "items": _ref("MaskingSession")}},
    },
    "CourierSession": {
        "type": "object",
        "description": "what a courier needs to reach the customer; never the customer's number or reference",
        "additionalProperties": False,
        "properties": {
            "id": STRING,
            "state": {"type": "string", "enum": ["live", "closed", "expired"]},
            "order_ref": STRING,
            "proxy_number": STRING,
            "pin": OPT_STRING,
            "dial": {"type": "string", "description": "the proxy number, then ',,' and the PIN if any"},
            "expires_at": TIME,
        },
    },
    "EraseRequest": {
        "type": "object",
        "additionalProperties": False,
        "required": ["customer_id"],
        "properties": {"customer_id": STRING},
    },
    "EraseResult": {
        "type": "object",
        "properties": {
            "customer_id": STRING,
            "history_erased": {"type": "boolean"},
            "masking_sessions_erased": {"type": "integer"},
        },
    },
    "StaffStatusRequest": {
        "type": "object",
        "additionalProperties": False,
        "required": ["status"],
        "properties": {"status": {"type": "string", "enum": [s.value for s in SelfStatus]}},
    },
    "StaffStatus": {
        "type": "object",
        "properties": {
            "id": STRING,
            "status": {"type": "string", "enum": [s.value for s in SelfStatus]},
            "state": {**STATE, "description": "what the widget now shows for this person"},
        },
    },
    "PresencePerson": {
        "type": "object",
        "additionalProperties": False,
        "required": ["id", "name", "photo_url", "state"],
        "properties": {"id": STRING, "name": STRING, "photo_url": OPT_STRING, "state": STATE},
    },
    "Presence": {
        "type": "object",
        "additionalProperties": False,
        "required": ["staff", "team", "open_now", "hours"],
        "properties": {
            "staff": {"type": "array", "items": _ref("PresencePerson")},
            "team": {**STATE, "description": "available if anyone is, else busy if anyone is, else offline"},
            "open_now": {"type": "boolean"},
            "hours": {"type": "string", "description": "today's opening hours, e.g. 'Monday 09:00-17:00'"},
        },
    },
    "PresenceMessage": {
        "description": "WebSocket messages: one 'presence' on connect (a whole Presence), then a 'change'"
        " per change of someone's public state",
        "oneOf": [
            {"allOf": [{"type": "object", "properties": {"type": {"const": "presence"}}}, _ref("Presence")]},
            {
                "type": "object",
                "properties": {
                    "type": {"const": "change"},
                    "staff": {"type": "array", "items": _ref("PresencePerson")},
                    "team": STATE,
                    "open_now": {"type": "boolean"},
                },
            },
        ],
    },
    "CallTokenRequest": {
        "type": "object",
        "additionalProperties": False,
        "required": ["target"],
        "properties": {
            "target": {"type": "string", "description": "a staff id, or 'team'"},
            "page_ref": {"type": "string", "pattern": "^[A-Za-z0-9._:/#-]{1,64}$"},
        },
    },
    "CallToken": {
        "type": "object",
        "properties": {
            "token": {"type": "string", "description": "pass it in the INVITE as the X-Tugi-Token header"},
            "expires_at": TIME,
            "sip": {
                "type": "object",
                "description": "the guest SIP account: it reaches only the web-call context",
                "properties": {
                    "ws_url": STRING,
                    "user": STRING,
                    "password": STRING,
                    "extension": {"type": "string", "description": "what to call: the target"},
                },
            },
        },
    },
    "CallbackRequest": {
        "type": "object",
        "additionalProperties": False,
        "required": ["number"],
        "properties": {
            "number": {"type": "string", "examples": ["+372 5123 4567"],
                       "description": "parsed in shop.default_region; mobile or landline in shop.allowed_regions"},
            "staff": {"type": "string", "description": "a staff id, or 'team' (the default)"},
            "page_ref": {"type": "string", "pattern": "^[A-Za-z0-9._:/#-]{1,64}$"},
            "order_ref": {"type": "string", "pattern": "^[A-Za-z0-9._:/#-]{1,64}$"},
            "preferred_time": {**TIME, "description": "within opening hours and the next 14 days"},
        },
    },
    "CallbackAccepted": {"type": "object", "required": ["id"], "properties": {"id": STRING}},
}


def _error(description: str, headers: Schema | None = None) -> Schema:
    response = _json(_ref("Error"), description)
    if headers:
        response["headers"] = headers
    return response


RESPONSES: dict[str, Schema] = {
    "BadRequest": _error("a parameter or field is wrong; `field` names it"),
    "Unauthorized": _error("no API token, or one that is not in http.api_tokens"),
    "Forbidden": _error("a courier token outside the courier view, or an Origin not in http.allowed_origins"),
    "NotFound": _error("no such resource"),
    "Conflict": _error("proxy-number pool exhausted and single-number mode is disabled"),
    "UnsupportedMediaType": _error("the body must be JSON, sent with Content-Type: application/json"),
    "TooManyRequests": _error(
        "the source address (or, for call backs, the number) spent its budget",
        {"Retry-After": {"description": "seconds to wait", "schema": {"type": "integer"}}},
    ),
    "NotConfigured": _error("this feature is not set up in the shop's configuration"),
}


def _query(name: str, description: str, schema: Schema) -> Schema:
    return {"name": name, "in": "query", "required": False, "description": description, "schema": schema}


def _path(name: str, description: str, schema: Schema = STRING) -> Schema:
    return {"name": name, "in": "path", "required": True, "description": description, "schema": schema}


_MOMENT = "ISO-8601 date or date-time; without an offset, in the shop's time zone. Write '+' as %2B."
PARAMETERS: dict[str, Schema] = {
    "since": _query("since", "calls started at or after this. " + _MOMENT, STRING),
    "until": _query("until", "calls started before this. " + _MOMENT, STRING),
    "disposition": _query("disposition", "what became of the call", {"type": "string",
                                                                     "enum": [d.value for d in Disposition]}),
    "staff": _query("staff", "a staff id: who answered, or whose phone rang", STRING),
    "customer": _query("customer", "a customer id", STRING),
    "channel": _query("channel", "how the call came", {"type": "string", "enum": [c.value for c in Channel]}),
    "limit": _query("limit", "page size", {"type": "integer", "minimum": 1, "maximum": 1000, "default": 100}),
    "offset": _query("offset", "calls to skip", {"type": "integer", "minimum": 0, "default": 0}),
    "include_numbers": _query(
        "include_numbers", "1 to see real phone numbers; masked otherwise", {"type": "string", "enum": ["0", "1"]}
    ),
    "callId": _path("id", "call id", {"type": "integer"}),
    "customerId": _path("id", "customer id"),
    "sessionId": _path("id", "masking session id"),
    "orderRef": _path("order_ref", "the shop's order reference"),
    "staffId": _path("id", "staff id"),
}
_FILTERS = [_param(n) for n in ("since", "until", "disposition", "staff", "customer", "channel", "include_numbers")]

PATHS: dict[str, Schema] = {
    "/api/calls": {
        "get": {
            "operationId": "listCalls",
            "summary": "Calls, newest first, filtered",
            "security": BACK_OFFICE,
            "parameters": [*_FILTERS, _param("limit"), _param("offset")],
            "responses": {"200": _json(_ref("CallList"), "one page of calls"), **_errors(400, 401, 403)},
        }
    },
    "/api/calls.csv": {
        "get": {
            "operationId": "exportCalls",
            "summary": "Every call matching the filters, as CSV for a spreadsheet",
            "security": BACK_OFFICE,
            "parameters": _FILTERS,
            "responses": {
                "200": {"description": "CSV with a header row", "content": {"text/csv": {"schema": STRING}}},
                **_errors(400, 401, 403),
            },
        }
    },
    "/api/calls/{id}": {
        "get": {
            "operationId": "getCall",
            "summary": "One call with its legs",
            "security": BACK_OFFICE,
            "parameters": [_param("callId"), _param("include_numbers")],
            "responses": {"200": _json(_ref("CallDetail"), "the call"), **_errors(400, 401, 403, 404)},
        }
    },
    "/api/customers/{id}/timeline": {
        "get": {
            "operationId": "customerTimeline",
            "summary": "Every interaction of a customer, newest first",
            "security": BACK_OFFICE,
            "parameters": [
                _param("customerId"),
                _param("include_numbers"),
                _query("limit", "at most this many", {"type": "integer", "minimum": 1, "maximum": 1000,
                                                      "default": 200}),
            ],
            "responses": {"200": _json(_ref("Timeline"), "the timeline"), **_errors(400, 401, 403, 404)},
        }
    },
    "/api/stats": {
        "get": {
            "operationId": "callStats",
            "summary": "Service level, abandonment, hourly load, waiting and talking times",
            "security": BACK_OFFICE,
            "parameters": [
                _query("since", "start of the range (default: today 00:00 in the shop's zone). " + _MOMENT, STRING),
                _query("until", "end of the range (default: now). " + _MOMENT, STRING),
                _query("answered_within", "service-level threshold in seconds",
                       {"type": "integer", "minimum": 1, "maximum": 3600, "default": 20}),
            ],
            "responses": {"200": _json(_ref("Stats"), "the figures"), **_errors(400, 401, 403)},
        }
    },
    "/api/masking/sessions": {
        "post": {
            "operationId": "openMaskingSession",
            "summary": "Put a proxy number between a courier and a customer for one order",
            "description": "Any line break, control character or SIP-header-like text in a field is refused (400).",
            "security": BACK_OFFICE,
            "requestBody": _body("MaskingSessionCreate", "the order and both parties"),
            "responses": {
                "201": _json(_ref("MaskingSessionCreated"), "the session; what each party dials"),
                **_errors(400, 401, 403, 409, 415, 503),
            },
        }
    },
    "/api/masking/sessions/{id}": {
        "get": {
            "operationId": "getMaskingSession",
            "summary": "A live masking session (closed and expired ones answer 404)",
            "security": BACK_OFFICE,
            "parameters": [_param("sessionId"), _param("include_numbers")],
            "responses": {"200": _json(_ref("MaskingSession"), "the session"), **_errors(400, 401, 403, 404, 503)},
        },
        "delete": {
            "operationId": "deleteMaskingSession",
            "summary": "Close a session now (same as POST …/close)",
            "security": BACK_OFFICE,
            "parameters": [_param("sessionId")],
            "responses": {"200": _json(_ref("MaskingSession"), "the closed session"),
                          **_errors(401, 403, 404, 503)},
        },
    },
    "/api/masking/sessions/{id}/close": {
        "post": {
            "operationId": "closeMaskingSession",
            "summary": "Close a session now: delivery done or cancelled",
            "security": BACK_OFFICE,
            "parameters": [_param("sessionId")],
            "responses": {"200": _json(_ref("MaskingSession"), "the closed session"),
                          **_errors(401, 403, 404, 503)},
        }
    },
    "/api/orders/{order_ref}/masking-sessions": {
        "get": {
            "operationId": "orderMaskingSessions",
            "summary": "Every masking session of an order, closed ones included",
            "security": BACK_OFFICE,
            "parameters": [_param("orderRef"), _param("include_numbers")],
            "responses": {"200": _json(_ref("OrderSessions"), "the sessions, oldest first"),
                          **_errors(400, 401, 403, 503)},
        }
    },
    "/api/courier/sessions/{id}": {
        "get": {
            "operationId": "courierSession",
            "summary": "The courier's view of a live session: what to dial",
            "description": "For courier tokens (named 'courier:…' in http.api_tokens) and the back office."
            " Never holds the customer's number or reference.",
            "security": [{"courier": []}, {"backOffice": []}],
            "parameters": [_param("sessionId")],
            "responses": {"200": _json(_ref("CourierSession"), "what to dial"), **_errors(400, 401, 404, 503)},
        }
    },
    "/api/gdpr/erase": {
        "post": {
            "operationId": "eraseCustomer",
            "summary": "Forget a customer's personal data in the history and in masked calls",
            "security": BACK_OFFICE,
            "requestBody": _body("EraseRequest", "whom to forget"),
            "responses": {"200": _json(_ref("EraseResult"), "what was erased"), **_errors(400, 401, 403, 404, 415)},
        }
    },
    "/api/staff/{id}/status": {
        "put": {
            "operationId": "setStaffStatus",
            "summary": "Set the status a person chose (available, away, dnd, walk_in)",
            "security": BACK_OFFICE,
            "parameters": [_param("staffId")],
            "requestBody": _body("StaffStatusRequest", "the new status"),
            "responses": {"200": _json(_ref("StaffStatus"), "the status and the public state"),
                          **_errors(400, 401, 403, 404, 415)},
        }
    },
    "/api/public/presence": {
        "get": {
            "operationId": "presence",
            "summary": "Who can answer now, for the widget's dots",
            "description": "Only id, name, photo and available/busy/offline per person." + ORIGIN_NOTE,
            "security": PUBLIC,
            "responses": {"200": _json(_ref("Presence"), "presence now"), **_errors(403, 429)},
        }
    },
    "/api/public/presence/ws": {
        "get": {
            "operationId": "presenceSocket",
            "summary": "WebSocket: the whole presence on connect, then one message per change",
            "description": "Messages are JSON, see PresenceMessage. The socket is one-way: a client sending"
            " more than a few messages a second or one over 4 KiB is closed with 1008." + ORIGIN_NOTE
            + " The Origin header is required.",
            "security": PUBLIC,
            "responses": {
                "101": {"description": "switching to WebSocket",
                        "content": {"application/json": {"schema": _ref("PresenceMessage")}}},
                **_errors(400, 403, 429),
            },
        }
    },
    "/api/public/call-token": {
        "post": {
            "operationId": "callToken",
            "summary": "A short-lived signed token and the guest SIP account, to call from the browser",
            "description": ORIGIN_NOTE.strip(),
            "security": PUBLIC,
            "requestBody": _body("CallTokenRequest", "whom to call"),
            "responses": {"200": _json(_ref("CallToken"), "the token"), **_errors(400, 403, 415, 429, 503)},
        }
    },
    "/api/public/callback": {
        "post": {
            "operationId": "requestCallback",
            "summary": "Ask the shop to call a number back",
            "description": "Error messages are written for the customer." + ORIGIN_NOTE
            + " Call backs have a much smaller budget, per source address and per number.",
            "security": PUBLIC,
            "requestBody": _body("CallbackRequest", "the number and, optionally, whom and when"),
            "responses": {"202": _json(_ref("CallbackAccepted"), "the call back is on its way"),
                          **_errors(400, 403, 415, 429, 503)},
        }
    },
    "/static/{path}": {
        method: {
            "operationId": f"static{method.capitalize()}",
            "summary": "The widget's script (tugi-widget.js), its demo page and staff photos",
            "security": PUBLIC,
            "parameters": [_path("path", "file name under web/static")],
            "responses": {"200": {"description": "the file"}, "404": {"description": "no such file"}},
        }
        for method in ("get", "head")
    },
    "/api/openapi.json": {
        "get": {
            "operationId": "openapi",
            "summary": "This document",
            "security": PUBLIC,
            "responses": {"200": {"description": "OpenAPI 3.1", "content": {"application/json": {"schema": {
                "type": "object"}}}}},
        }
    },
}


def document(server_url: str | None = None) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {
            "title": "Tugi",
            "version": VERSION,
            "summary": "Contact-centre engine for e-shops: widget, presence, masked calls, call history",
            "license": {"name": "AGPL-3.0-or-later", "identifier": "AGPL-3.0-or-later"},
        },
        "security": BACK_OFFICE,
        "paths": PATHS,
        "components": {
            "schemas": SCHEMAS,
            "responses": RESPONSES,
            "parameters": PARAMETERS,
            "securitySchemes": {
                "backOffice": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "a token from http.api_tokens whose name does not start with 'courier:'",
                },
                "courier": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "a token from http.api_tokens named 'courier:…'; opens only /api/courier/…",
                },
            },
        },
    }
    if server_url:
        doc["servers"] = [{"url": server_url}]
    return doc


async def get_openapi(request: web.Request) -> web.Response:
    return web.json_response(document())


ENDPOINTS = (Endpoint("GET", "/api/openapi.json", get_openapi, Access.OPEN, "openapi"),)
