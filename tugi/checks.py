"""Warnings about a configuration that is valid but probably not what the shop wants."""

from __future__ import annotations

from config.schema import Settings
from routing.coverage import unreachable_hours


def warnings_for(settings: Settings) -> list[str]:
    warnings: list[str] = []
    if not settings.staff:
        warnings.append("no staff are configured: every call goes to the outsourced centre")
    if not settings.http.api_tokens:
        warnings.append("http.api_tokens is empty: the back-office API will refuse every request")
    warnings.extend(unreachable_hours(settings))
    return warnings
