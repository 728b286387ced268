"""tugi.demo without a PBX: what happens when pjsua2 is missing, and what the phones bind to."""

from __future__ import annotations

import sys

import pytest

from tests.support import shop
from tugi import demo


def test_without_pjsua2_the_error_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pjsua2", None)  # makes `import pjsua2` raise ImportError
    with pytest.raises(demo.DemoPhonesError, match=r"pip install 'tugi\[phone\]'"):
        demo.start_demo_phones(shop.test_settings())


def test_a_missing_sound_file_is_named(tmp_path) -> None:
    pytest.importorskip("pjsua2")
    missing = tmp_path / "hello.wav"
    with pytest.raises(demo.DemoPhonesError, match=r"hello\.wav does not exist"):
        demo.start_demo_phones(shop.test_settings(), wav=missing)


def test_phones_bind_where_asterisk_listens_and_never_to_every_interface() -> None:
    settings = shop.test_settings()
    assert demo._bind_address(settings) == "127.0.0.1"
    anywhere = settings.model_copy(update={"asterisk": settings.asterisk.model_copy(update={"sip_bind": "0.0.0.0"})})
    assert demo._bind_address(anywhere) == "127.0.0.1"
