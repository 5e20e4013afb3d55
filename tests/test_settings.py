"""Settings: precedence, validation with useful messages, and no side effects."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from assistant.settings import Settings, SettingsError, load_settings


def write_toml(path: Path, body: str) -> Path:
    path.write_text(body, encoding="utf-8")
    return path


def test_defaults_without_any_source(tmp_path: Path) -> None:
    s = load_settings(root=tmp_path, environ={})
    assert s.root == tmp_path.resolve()
    assert s.k == 5 and s.retriever == "hybrid" and s.embedder == "minilm"
    assert s.corpus == tmp_path.resolve() / "corpus"
    assert s.indexes == tmp_path.resolve() / "indexes"


def test_precedence_defaults_toml_env_overrides(tmp_path: Path) -> None:
    write_toml(tmp_path / "assistant.toml", 'k = 3\nrrf_k = 50\nretriever = "bm25"\n')
    # TOML beats defaults
    s = load_settings(root=tmp_path, environ={})
    assert (s.k, s.rrf_k, s.retriever) == (3, 50, "bm25")
    # env beats TOML, TOML still supplies what env does not set
    env = {"ASSISTANT_K": "7", "ASSISTANT_RETRIEVER": "dense"}
    s = load_settings(root=tmp_path, environ=env)
    assert (s.k, s.rrf_k, s.retriever) == (7, 50, "dense")
    # explicit overrides beat env; None overrides are ignored
    s = load_settings(root=tmp_path, environ=env, k=9, retriever=None)
    assert (s.k, s.rrf_k, s.retriever) == (9, 50, "dense")
    # the defaults really were the bottom layer
    assert Settings().rrf_k == 60 and Settings().k == 5


def test_config_file_argument_env_var_and_assistant_table(tmp_path: Path) -> None:
    cfg = write_toml(tmp_path / "other.toml", "[assistant]\nk = 11\ncandidates = 40\n")
    assert load_settings(root=tmp_path, config_file=cfg, environ={}).k == 11
    # relative config path resolves against the root
    assert load_settings(root=tmp_path, config_file=Path("other.toml"), environ={}).k == 11
    s = load_settings(root=tmp_path, environ={"ASSISTANT_CONFIG": str(cfg)})
    assert (s.k, s.candidates) == (11, 40)


def test_env_root_and_path_resolution(tmp_path: Path) -> None:
    env = {
        "ASSISTANT_ROOT": str(tmp_path),
        "ASSISTANT_INDEX_DIR": "elsewhere/idx",
        "ASSISTANT_CORPUS_DIR": str(tmp_path / "abs-corpus"),
        "ASSISTANT_EMBEDDER": "hash",
        "ASSISTANT_TRACE": "no",
    }
    s = load_settings(environ=env)
    assert s.root == tmp_path.resolve()
    assert s.indexes == tmp_path.resolve() / "elsewhere" / "idx"
    assert s.corpus == tmp_path / "abs-corpus"
    assert s.embedder == "hash" and s.trace is False
    # ASSISTANT_ROOT is not a field override: an explicit root wins
    other = tmp_path / "other"
    assert load_settings(root=other, environ=env).root == other.resolve()


@pytest.mark.parametrize(
    ("env", "overrides", "needle"),
    [
        ({"ASSISTANT_K": "abc"}, {}, "'k'"),
        ({"ASSISTANT_TRACE": "maybe"}, {}, "'trace'"),
        ({"ASSISTANT_RRF_K": "1.5"}, {}, "'rrf_k'"),
        ({}, {"generator": "nope"}, "generator"),
        ({"ASSISTANT_GENERATOR": "nope"}, {}, "generator"),
        ({}, {"retriever": "fancy"}, "retriever"),
        ({}, {"embedder": "bert"}, "embedder"),
        ({}, {"k": 0}, "k must be"),
        ({"ASSISTANT_K": "500"}, {}, "k must be"),
        ({}, {"collection": "ab"}, "collection"),
        ({}, {"chunk_min_chars": 900}, "chunk_min_chars"),
        ({}, {"no_such_setting": 1}, "no_such_setting"),
    ],
)
def test_bad_values_raise_naming_the_setting(
    tmp_path: Path, env: dict[str, str], overrides: dict[str, object], needle: str
) -> None:
    with pytest.raises(SettingsError) as info:
        load_settings(root=tmp_path, environ=env, **overrides)
    assert needle in str(info.value)


def test_bad_env_value_names_its_source(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match=r"\$ASSISTANT_K"):
        load_settings(root=tmp_path, environ={"ASSISTANT_K": "abc"})


def test_unknown_key_in_toml_raises(tmp_path: Path) -> None:
    cfg = write_toml(tmp_path / "assistant.toml", "k = 4\nretreiver = 'bm25'\n")
    with pytest.raises(SettingsError) as info:
        load_settings(root=tmp_path, environ={})
    assert "retreiver" in str(info.value) and str(cfg) in str(info.value)


def test_bad_value_in_toml_names_file(tmp_path: Path) -> None:
    cfg = write_toml(tmp_path / "assistant.toml", 'k = "many"\n')
    with pytest.raises(SettingsError) as info:
        load_settings(root=tmp_path, environ={})
    assert "'k'" in str(info.value) and str(cfg) in str(info.value)


def test_unreadable_toml_raises(tmp_path: Path) -> None:
    write_toml(tmp_path / "assistant.toml", "k = = 4\n")
    with pytest.raises(SettingsError, match="cannot read config file"):
        load_settings(root=tmp_path, environ={})
    with pytest.raises(SettingsError, match="cannot read config file"):
        load_settings(root=tmp_path, config_file=tmp_path / "missing.toml", environ={})


@pytest.mark.parametrize("value", ["7.5", "true"])
def test_toml_wrong_number_type_is_rejected(tmp_path: Path, value: str) -> None:
    write_toml(tmp_path / "assistant.toml", f"k = {value}\n")
    with pytest.raises(SettingsError, match="'k'"):
        load_settings(root=tmp_path, environ={})


def test_unrelated_environment_is_ignored(tmp_path: Path) -> None:
    env = {"K": "9", "PATH": "/bin", "ASSISTANT_SOMETHING_ELSE": "x"}
    assert load_settings(root=tmp_path, environ=env).k == 5


def test_settings_are_frozen_and_have_no_side_effects(tmp_path: Path) -> None:
    root = tmp_path / "project"
    s = load_settings(
        root=root,
        environ={"ASSISTANT_INDEX_DIR": "idx", "ASSISTANT_TRACE_DIR": "logs2"},
        corpus_dir="docs",
    )
    Settings(root=root, index_dir=Path("x"))
    _ = (s.corpus, s.indexes, s.path(s.trace_dir), s.path(s.upload_dir))
    assert not root.exists()
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.k = 3  # type: ignore[misc]


def test_with_overrides_coerces_and_validates(tmp_path: Path) -> None:
    s = load_settings(root=tmp_path, environ={})
    t = s.with_overrides(k="8", retriever=None, corpus_dir="c2")
    assert t.k == 8 and t.retriever == s.retriever and t.corpus == s.root / "c2"
    assert s.k == 5  # original untouched
    with pytest.raises(SettingsError, match="k must be"):
        s.with_overrides(k=101)
    with pytest.raises(SettingsError, match="unknown setting"):
        s.with_overrides(colour="blue")


# ----------------------------------------------------------------------------- component sections
def test_component_sections_from_toml_env_and_overrides(tmp_path: Path) -> None:
    write_toml(
        tmp_path / "assistant.toml",
        "k = 4\n[refusal]\nmin_coverage = 0.3\n[verify]\nmin_overlap = 0.4\n"
        "[criteria]\nscore_threshold = 0.5\n[extractive]\nmax_sentences = 6\n",
    )
    s = load_settings(root=tmp_path, environ={})
    assert s.k == 4
    assert s.refusal.min_coverage == 0.3 and s.refusal.few_terms_dense == 0.6  # rest default
    assert s.verify.min_overlap == 0.4 and s.criteria.score_threshold == 0.5
    assert s.extractive.max_sentences == 6
    # the environment beats TOML, one key of a section at a time
    s = load_settings(root=tmp_path, environ={"ASSISTANT_REFUSAL__FEW_TERMS_DENSE": "0.5"})
    assert (s.refusal.min_coverage, s.refusal.few_terms_dense) == (0.3, 0.5)
    # an override changes only the keys it names
    t = s.with_overrides(refusal={"min_coverage": 0.2})
    assert (t.refusal.min_coverage, t.refusal.few_terms_dense) == (0.2, 0.5)
    assert s.refusal.min_coverage == 0.3  # the original is untouched
    assert t.components()["refusal"] == {"min_coverage": 0.2, "few_terms_dense": 0.5}
    assert set(t.components()) == {"extractive", "refusal", "verify", "criteria"}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("[refusal]\nmin_coverag = 0.3\n", "unknown setting refusal.min_coverag"),
        ("[refusal]\nmin_coverage = 'high'\n", "refusal.min_coverage"),
        ("[verify]\nmin_similarity = 1.5\n", "verify.min_similarity must be between 0 and 1"),
        ("[extractive]\nmax_sentences = 0\n", "extractive.max_sentences must be at least 1"),
        ("refusal = 3\n", "should be a table"),
    ],
)
def test_bad_component_values_name_the_key(tmp_path: Path, body: str, message: str) -> None:
    write_toml(tmp_path / "assistant.toml", body)
    with pytest.raises(SettingsError, match=message):
        load_settings(root=tmp_path, environ={})


def test_component_values_reach_the_components(tmp_path: Path) -> None:
    """The sections are what the code reads: the eval snapshot records them whole."""
    from assistant.eval_runner import settings_snapshot

    s = load_settings(root=tmp_path, environ={}).with_overrides(verify={"min_overlap": 0.45})
    snap = settings_snapshot(s)
    assert snap["verify"]["min_overlap"] == 0.45
    assert snap["refusal"]["min_coverage"] == s.refusal.min_coverage
