"""What a new user hits in the first hour (issue 16): pages that keep up with the workspace."""
from __future__ import annotations

from streamlit.testing.v1 import AppTest

from tests.pages.conftest import APP


def open_page(page: str, timeout: float = 60) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=timeout).run()
    at.switch_page(page).run()
    return at


def assert_clean(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]


def test_clip_thumbnails_show_once_the_clips_are_generated(workspace):
    from laom_core.envs import builtin_clips
    from laom_core.envs.videos import BuiltinSource

    at = open_page("pages/datasets.py")
    assert_clean(at)
    source = BuiltinSource()
    first = [s for s in source.specs if s.split == "train"][:2]
    captions = [c.value for c in at.caption]
    assert f"{first[0].name} (not generated)" in captions
    for spec in first:  # what `clips generate` (or the page's button) writes
        builtin_clips.load_or_generate(spec, source.folder)
    at.run()
    assert_clean(at)
    captions = [c.value for c in at.caption]
    assert f"{first[0].name} (not generated)" not in captions, "stale thumbnail cache"
    assert f"{first[1].name} (not generated)" not in captions
    shown = [str(img.proto) for img in at.get("image")]
    assert any(first[0].name in p for p in shown)
