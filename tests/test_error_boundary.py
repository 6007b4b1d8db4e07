"""One error boundary in the CLI and one in the pages: a LaomError, or an OSError from a
user's path (h5py's included), ends in one ``error:`` line / ``st.error``, never a traceback."""
from __future__ import annotations

import errno

import pytest

from laom_core.cli import main
from laom_core.errors import LaomError


@pytest.mark.parametrize("exc,expected", [
    (OSError(errno.ENOSPC, "No space left on device", "/data/x.hdf5"), "No space left on device: /data/x.hdf5"),
    (PermissionError(errno.EACCES, "Permission denied", "/data/x.hdf5"), "Permission denied: /data/x.hdf5"),
    (OSError("Unable to synchronously open file (truncated file)"), "Unable to synchronously open file"),
    (LaomError("the thing is wrong"), "the thing is wrong"),
])
def test_cli_boundary_turns_user_errors_into_one_line(exc, expected, monkeypatch, capsys):
    import laom_core.collect

    def failing(**kwargs):
        raise exc

    monkeypatch.setattr(laom_core.collect, "collect_dataset", failing)
    assert main(["collect", "--episodes", "1"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and expected in err[0], err


def test_cli_bug_is_still_a_traceback(monkeypatch):
    """Only user errors are turned into lines: a programming error keeps its traceback."""
    import laom_core.collect

    def buggy(**kwargs):
        raise ZeroDivisionError("bug")

    monkeypatch.setattr(laom_core.collect, "collect_dataset", buggy)
    with pytest.raises(ZeroDivisionError):
        main(["collect", "--episodes", "1"])


@pytest.mark.parametrize("exc", [LaomError("the run store is odd"),
                                 PermissionError(errno.EACCES, "Permission denied", "/ws/runs")])
def test_page_boundary_shows_st_error(exc, monkeypatch, workspace):
    """A user error that no section of a page caught ends that page with st.error (app.py's run_page)."""
    from streamlit.testing.v1 import AppTest

    from pages import common
    from tests.pages.conftest import APP

    def failing_header(*args, **kwargs):
        raise exc

    monkeypatch.setattr(common, "page_header", failing_header)
    at = AppTest.from_file(APP, default_timeout=60).run()
    assert not at.exception, [e.value for e in at.exception]
    expected = exc.strerror if isinstance(exc, OSError) else str(exc)
    assert len(at.error) == 1 and expected in at.error[0].value
