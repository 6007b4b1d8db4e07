"""Property tests for the config loader: any YAML document, any --set value, any saved
config dict gives a valid TrainConfig or one ConfigError (a LaomError), never another
exception, within a time bound."""
from __future__ import annotations

import dataclasses
import time

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from laom_core.config import (SECTIONS, TOP_LEVEL, TrainConfig, config_from_dict, load_config, parse_set,
                              load_yaml_file, set_value)
from laom_core.errors import LaomError

KNOWN = sorted({f"{s}.{f.name}" for s, cls in SECTIONS.items() for f in dataclasses.fields(cls)} | set(TOP_LEVEL))
SETTINGS = settings(max_examples=60, deadline=2000, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
TIME_BOUND_S = 2.0

# Scalars as YAML spells them: the odd ones (dates, huge integers, hex, .inf) are what
# PyYAML's constructors turn into Python values or errors of their own.
yaml_scalar_text = st.sampled_from([
    "1", "-1", "0", "0x1F", "0o17", "1_000", "1e20", "1e400", "-1e400", ".inf", "-.inf", ".nan", "~", "null",
    "true", "no", "auto", "2001-02-30", "2001-02-03", "2001-12-14t21:59:43.10-05:00", "12:30:45", "1" * 5000, "9" * 400,
    "'text'", "[1, 2]", "{a: 1}", "!!binary aGVsbG8=", "!!set {a, b}", "!!python/object:os.system x", "&a 1",
    "*a", "''", "1.5", "-0.0", "3.0", "authors", "shared", "unet", "lam", "bc",
])
leaf = st.one_of(
    st.none(), st.booleans(), st.integers(), st.integers(min_value=-2**80, max_value=2**80),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=20),
    st.sampled_from(["64", "1e-4", "nan", "inf", "true", "auto", "null", "authors", "-5"]),
)
values = st.recursive(leaf, lambda children: st.one_of(
    st.lists(children, max_size=3), st.dictionaries(st.text(max_size=8), children, max_size=3)), max_leaves=8)
keys = st.one_of(st.sampled_from(KNOWN), st.sampled_from(sorted(SECTIONS)), st.text(max_size=12))


@st.composite
def documents(draw):
    """A YAML config: sections with known and unknown keys, random nesting, odd values."""
    doc: dict = {}
    for key in draw(st.lists(keys, max_size=6)):
        value = draw(values)
        if "." in key and draw(st.booleans()):
            section, name = key.split(".", 1)
            doc.setdefault(section, {}) if isinstance(doc.get(section), dict) else doc.__setitem__(section, {})
            doc[section][name] = value
        else:
            doc[key] = value
    return doc


def _one_outcome(fn, *args):
    start = time.perf_counter()
    try:
        out = fn(*args)
    except LaomError as exc:
        assert "\n" not in str(exc).strip() or "YAML" in str(exc), str(exc)[:300]
        out = exc
    assert time.perf_counter() - start < TIME_BOUND_S
    return out


@SETTINGS
@given(doc=documents(), method=st.sampled_from([None, "idm", "lapo", "laom", "laom-labels", "bc"]))
def test_random_yaml_documents(tmp_path_factory, doc, method):
    path = tmp_path_factory.mktemp("cfg") / "c.yaml"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True))
    out = _one_outcome(load_config, "smoke", method, path)
    assert isinstance(out, LaomError) or isinstance(out[0], TrainConfig)


@SETTINGS
@given(scalar=yaml_scalar_text, nested=st.booleans())
def test_yaml_scalar_spellings_for_every_key(tmp_path_factory, scalar, nested):
    """Every odd way YAML spells a value (dates, 400- and 5000-digit integers, tags), read
    as a config document would be, then given to every key."""
    def read_and_set_everywhere():
        path = tmp_path_factory.mktemp("cfg") / "c.yaml"
        path.write_text(f"lapo:\n  key: {scalar}\n" if nested else f"key: {scalar}\n")
        value = load_yaml_file(path)["lapo.key" if nested else "key"]
        outcomes = []
        for key in KNOWN:
            try:
                outcomes.append(set_value(TrainConfig(), key, value))
            except LaomError as exc:
                outcomes.append(exc)
        return outcomes

    _one_outcome(read_and_set_everywhere)


@SETTINGS
@given(key=st.one_of(st.sampled_from(KNOWN), st.text(max_size=12)),
       raw=st.one_of(yaml_scalar_text, st.text(max_size=30)))
def test_random_set_overrides(key, raw):
    def set_then_load(item):
        return load_config("smoke", None, None, parse_set([item]))

    out = _one_outcome(set_then_load, f"{key}={raw}")
    assert isinstance(out, LaomError) or isinstance(out[0], TrainConfig)


@SETTINGS
@given(doc=st.one_of(documents(), values))
def test_random_saved_config_dicts(doc):
    out = _one_outcome(config_from_dict, doc)
    assert isinstance(out, (LaomError, TrainConfig))


@SETTINGS
@given(text=st.text(max_size=200))
def test_random_text_documents(tmp_path_factory, text):
    path = tmp_path_factory.mktemp("cfg") / "c.yaml"
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    out = _one_outcome(load_config, "smoke", None, path)
    assert isinstance(out, LaomError) or isinstance(out[0], TrainConfig)
