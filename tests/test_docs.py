"""docs/prompts.md is generated from cookiecutter.json and must not drift from it."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parent.parent / "docs"


@pytest.fixture(scope="module")
def gen_prompts():
    spec = importlib.util.spec_from_file_location(
        "gen_prompts", DOCS / "gen_prompts.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_prompt_has_help_text_and_a_rule(gen_prompts, cookiecutter_json):
    names = gen_prompts.prompt_names(cookiecutter_json)
    prompts = cookiecutter_json["__prompts__"]
    assert set(prompts) == set(names)
    assert set(gen_prompts.RULES) == set(names)
    for name in names:
        if isinstance(
            cookiecutter_json[name], list
        ):  # a choice: a question and one line per option
            assert set(prompts[name]) == {"__prompt__", *cookiecutter_json[name]}, name
        else:
            assert prompts[name].strip(), name
        assert gen_prompts.RULES[name].strip(), name


def test_prompts_page_is_up_to_date(gen_prompts, cookiecutter_json):
    committed = (DOCS / "prompts.md").read_text(encoding="utf-8")
    assert committed == gen_prompts.render(cookiecutter_json), (
        "run: python docs/gen_prompts.py"
    )
