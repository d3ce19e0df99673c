"""The one way values are made safe to store or send as JSON."""

from __future__ import annotations

import json
from decimal import Decimal


def test_json_safe_cleans_what_a_database_cannot_store_in_keys_and_values():
    from core.values import json_safe

    dirty = {"\udd21\u0000key": ["a\u0000b", {"n\u0000": "\ud800"}], "emoji": "\U0001F600", "n": 5}
    clean = json_safe(dirty)
    assert clean == {"\ufffdkey": ["ab", {"n": "\ufffd"}], "emoji": "\U0001F600", "n": 5}
    clean_text = json.dumps(clean, ensure_ascii=False)
    clean_text.encode("utf-8")  # stores as UTF-8
    assert "\x00" not in clean_text
    assert json_safe({"plain": "text", "price": Decimal("1.5")}) == {"plain": "text", "price": "1.5"}
