"""The shop configuration the integration tests run against: loopback only, its own ports."""

from __future__ import annotations

from config.loader import parse_settings
from config.schema import Settings

# Ports differ from the example's so a demo running on this machine never meets the tests.
AMI_PORT = 15038
SIP_PORT = 15060
HTTP_PORT = 18088
AGI_PORT = 14573
TUGI_HTTP_PORT = 18080
CARRIER_IP = "127.0.0.2"
CARRIER_PORT = 15070
OUTSOURCED_IP = "127.0.0.3"
OUTSOURCED_PORT = 15080

STAFF_SECRET = "test-secret-{id}"
AMI_SECRET = "test-ami-secret"
API_TOKEN = "test-backoffice-token"

TEST_SHOP_TOML = f"""
[shop]
id = "testshop"
name = "Test Shop"
timezone = "Europe/Tallinn"
default_region = "EE"
allowed_regions = ["EE", "LV", "FI"]

[shop.hours]
monday = "09:00-17:00"
tuesday = "09:00-17:00"
wednesday = "09:00-17:00"
thursday = "09:00-17:00"
friday = "09:00-17:00"
public_holidays = "EE"

[[staff]]
id = "alice"
name = "Alice Aas"
extension = "201"
secret = "test-secret-alice"
skills = ["sales", "delivery"]
languages = ["et", "en"]

[[staff]]
id = "bob"
name = "Bob Bergmann"
extension = "202"
secret = "test-secret-bob"
skills = ["returns", "delivery"]
languages = ["et"]

[[staff]]
id = "carol"
name = "Carol Kask"
extension = "203"
secret = "test-secret-carol"
skills = ["sales"]
languages = ["et", "en"]

[[staff]]
id = "dan"
name = "Dan Showroom"
extension = "204"
secret = "test-secret-dan"
showroom = true

[showroom]
name = "Test showroom"
ring_seconds = 6

[outsourced]
enabled = true
name = "Test call centre"
host = "{OUTSOURCED_IP}"
port = {OUTSOURCED_PORT}
user = "testshop"
ring_seconds = 20

[carrier]
host = "{CARRIER_IP}"
port = {CARRIER_PORT}
main_number = "+3726005000"

[routing]
strategy = "ring_all"
person_ring_seconds = 6
team_ring_seconds = 6

[masking]
pool = ["+3726001001", "+3726001002"]
session_ttl_hours = 24
encryption_key = "test-masking-key"

[asterisk]
ami_port = {AMI_PORT}
ami_username = "tugi"
ami_secret = "{AMI_SECRET}"
sip_port = {SIP_PORT}
http_port = {HTTP_PORT}
rtp_start = 30000
rtp_end = 30999

[agi]
port = {AGI_PORT}

[database]
url = "sqlite:///:memory:"
encryption_key = "test-history-key-0123456789"

[http]
port = {TUGI_HTTP_PORT}
allowed_origins = ["http://127.0.0.1:{TUGI_HTTP_PORT}"]
token_secret = "test-call-token-key"
api_tokens = {{ backoffice = "{API_TOKEN}" }}
"""


def test_settings(**overrides: str) -> Settings:
    return parse_settings(TEST_SHOP_TOML, "tests/support/shop.py")
