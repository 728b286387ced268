"""The OpenAPI document describes exactly the routes the app serves, and is valid OpenAPI 3.1."""

from __future__ import annotations

import re

import pytest
from aiohttp.web_urldispatcher import StaticResource
from conftest import Env

from web.app import ENDPOINTS
from web.openapi import document


def _served(env: Env) -> set[tuple[str, str]]:
    routes = set()
    for route in env.client.app.router.routes():
        resource = route.resource
        assert resource is not None
        # a static resource's canonical path is its prefix; it serves the files under it
        path = f"{resource.canonical}/{{path}}" if isinstance(resource, StaticResource) else resource.canonical
        routes.add((path, route.method.lower()))
    return routes


def _described() -> set[tuple[str, str]]:
    return {(path, method) for path, item in document()["paths"].items() for method in item}


async def test_every_registered_route_is_described(env: Env) -> None:
    served = _served(env)
    assert served, "the app registers no routes?"
    missing = served - _described()
    assert not missing, f"routes not in web/openapi.py: {sorted(missing)}"


async def test_every_described_route_is_served(env: Env) -> None:
    extra = _described() - _served(env)
    assert not extra, f"described but not served: {sorted(extra)}"


async def test_the_served_document_is_valid_openapi_3_1(env: Env) -> None:
    validator = pytest.importorskip("openapi_spec_validator")
    response = await env.client.get("/api/openapi.json")
    body = await response.json()
    validator.validate(body)
    assert body["openapi"].startswith("3.1")


def test_path_parameters_are_declared() -> None:
    doc = document()
    parameters = doc["components"]["parameters"]
    for path, item in doc["paths"].items():
        names = set(re.findall(r"{(\w+)}", path))
        for method, operation in item.items():
            declared = set()
            for parameter in operation.get("parameters", []):
                resolved = parameters[parameter["$ref"].rsplit("/", 1)[1]] if "$ref" in parameter else parameter
                if resolved["in"] == "path":
                    declared.add(resolved["name"])
            assert declared == names, f"{method.upper()} {path}"


async def test_security_matches_declared_access(env: Env) -> None:
    doc = document()
    for endpoint in ENDPOINTS:
        path = env.client.app.router[endpoint.name].canonical
        assert path in doc["paths"], path
        security = doc["paths"][path][endpoint.method.lower()].get("security", doc["security"])
        if endpoint.access.value in ("public", "open"):
            assert security == [], endpoint.name
        elif endpoint.access.value == "courier":
            assert {"courier": []} in security, endpoint.name
        else:
            assert security == [{"backOffice": []}], endpoint.name
