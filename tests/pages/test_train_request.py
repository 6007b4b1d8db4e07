"""The Train page checks a request with the same validation as the CLI and the launcher."""
from __future__ import annotations

import shlex

from tests.pages.test_daily_use import assert_clean, open_page


def test_train_page_gives_the_clis_message_for_the_same_bad_input(workspace, monkeypatch, capsys):
    from laom_core.cli import main
    from laom_core.data.toy import make_toy_dataset
    from laom_core.runs import launcher
    from laom_core.runs.request import train_argv, validate_train_request

    monkeypatch.setattr(launcher, "ensure_scheduler", lambda *a, **k: None)
    (workspace / "datasets").mkdir(parents=True)
    data = make_toy_dataset(workspace / "datasets" / "toy.hdf5", trajectories=3, steps=10, img_size=16)
    at = open_page("pages/train.py")
    at.selectbox(key="tr_method").set_value("lapo").run()
    at.text_area(key="tr_overrides").input("lapo.batch_size=-4").run()
    assert_clean(at)
    page_errors = [str(e.value) for e in at.error]
    assert at.button(key="tr_launch").disabled
    argv = ["--method", "lapo", "--preset", "smoke", "--data", str(data), "--set", "lapo.batch_size=-4"]
    assert main(["launch", *argv]) == 2
    cli = capsys.readouterr().err.strip()
    assert cli.startswith("error: ") and cli[len("error: "):] in page_errors, (cli, page_errors)
    # A good request: the command the page shows is the request's own argv.
    at.text_area(key="tr_overrides").input("lapo.batch_size=8").run()
    assert_clean(at) and not at.error
    shown = "\n".join(str(c.value) for c in at.code)
    request = validate_train_request("lapo", preset="smoke", sets=["lapo.batch_size=8"], data=data)
    assert shlex.join(["python", "-m", "laom_core", "launch", *train_argv(request)]) in shown, shown
