"""TenantKeys: the SCHEME's patterns and ids read back from key names."""

from __future__ import annotations

from hub.store.keys import LIFECYCLE_KEYS, TenantKeys

KEYS = TenantKeys("nar*bonne")


def test_scheme_patterns_escape_the_prefix_and_glob_the_ids() -> None:
    assert KEYS.match_scheme("incident") == "vg:{nar\\*bonne}:inc:*"
    assert KEYS.match_scheme("incident_reporters") == "vg:{nar\\*bonne}:inc:*:reporters"
    assert KEYS.match_scheme("inbox") == "vg:{nar\\*bonne}:inbox:*:*"
    assert KEYS.match_inboxes("unit") == "vg:{nar\\*bonne}:inbox:unit:*"


def test_an_id_is_read_back_from_its_key() -> None:
    assert KEYS.id_in("incident", KEYS.incident("in:7")) == "in:7"
    assert KEYS.id_in("incident_reporters", KEYS.incident_reporters("in7")) == "in7"


def test_the_names_are_the_stored_layout() -> None:
    """Existing data must still be found: these names never change."""
    k = TenantKeys("narbonne")
    assert [k.incident("i"), k.history("i"), k.incident_alerts("i"), k.incident_reporters("i")] == [
        "vg:{narbonne}:inc:i", "vg:{narbonne}:inc:i:history",
        "vg:{narbonne}:inc:i:alerts", "vg:{narbonne}:inc:i:reporters",
    ]  # fmt: skip
    assert [k.alert("a"), k.unit("u"), k.assignment("s"), k.cell("c"), k.notice("n")] == [
        "vg:{narbonne}:alert:a", "vg:{narbonne}:unit:u", "vg:{narbonne}:asg:s",
        "vg:{narbonne}:cell:c", "vg:{narbonne}:notice:n",
    ]  # fmt: skip
    assert k.inbox("citizen", "c1") == "vg:{narbonne}:inbox:citizen:c1"
    assert k.stats_day("2026-12-01") == "vg:{narbonne}:stats:2026-12-01"
    assert k.recurrence("89", "noise") == "vg:{narbonne}:recur:89:noise"
    assert k.lifecycle() == [f"vg:{{narbonne}}:{s}" for s in (
        "events", "seq", "open", "live", "published", "deadlines", "units", "notices",
    )]  # fmt: skip
    assert len(LIFECYCLE_KEYS) == 8
