"""English country names for the regions a shop may call back, for messages to customers.

A table rather than phonenumbers' geocoder, which loads its whole geographic data set (about
100 MiB of Tugi's resident memory, bench/memory.py) only to name a country. A region missing
here is shown by its code.
"""

from __future__ import annotations

_NAMES = {
    "AD": "Andorra", "AT": "Austria", "BE": "Belgium", "BG": "Bulgaria", "CA": "Canada", "CH": "Switzerland",
    "CY": "Cyprus", "CZ": "Czech Republic", "DE": "Germany", "DK": "Denmark", "EE": "Estonia", "ES": "Spain",
    "FI": "Finland", "FR": "France", "GB": "United Kingdom", "GR": "Greece", "HR": "Croatia", "HU": "Hungary",
    "IE": "Ireland", "IS": "Iceland", "IT": "Italy", "LI": "Liechtenstein", "LT": "Lithuania",
    "LU": "Luxembourg", "LV": "Latvia", "MC": "Monaco", "MT": "Malta", "NL": "Netherlands", "NO": "Norway",
    "PL": "Poland", "PT": "Portugal", "RO": "Romania", "SE": "Sweden", "SI": "Slovenia", "SK": "Slovakia",
    "UA": "Ukraine", "US": "United States",
}


def country_name(region: str) -> str:
    return _NAMES.get(region.upper(), region)
