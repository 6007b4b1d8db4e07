"""The page benchmarks' one timing: a dashboard page's first render, as a first visit sees it."""
from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from streamlit.testing.v1 import AppTest

APP = Path(__file__).resolve().parents[1] / "app.py"


def first_render(page: str, timeout: float) -> tuple[float, AppTest]:
    """Seconds for ``page`` (e.g. ``"pages/runs.py"``) to render through streamlit's AppTest
    with empty caches (the app's own first run is not timed), and the AppTest to inspect."""
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    st.cache_data.clear()
    st.cache_resource.clear()
    at = AppTest.from_file(str(APP), default_timeout=timeout).run()
    t0 = time.perf_counter()
    at.switch_page(page).run()
    return time.perf_counter() - t0, at
