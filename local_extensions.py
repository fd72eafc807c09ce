"""Jinja extension of this template, loaded by cookiecutter through `_extensions`.

- `checked(field)` refuses a bad answer right after it is given, before any folder
  exists: cookiecutter renders each `__<field>_checked` key of cookiecutter.json as
  soon as the prompt before it is answered. The rules are the pre-gen hook's.
- `python_string` and `toml_string` write free text as a literal of that language.
- `template_dir()` tells the post-gen hook where the template is, for `.cruft.json`.

cruft imports this module once per process and then reuses it for both renders of
an update (older and newer commit): keep the filter names stable across releases.
The rules are read from the hooks at each render, so they do follow the commit.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

from cookiecutter.exceptions import FailedHookException
from jinja2.ext import Extension

TEMPLATE_DIR = Path(__file__).resolve().parent


class AnswerRefused(FailedHookException):
    """A FailedHookException, so that cookiecutter's CLI prints the message alone
    (no traceback) and exits 1, as it does when the pre-gen hook refuses."""


def load_pre_gen():
    """hooks/pre_gen_project.py as it stands: its one Jinja expression is never called here."""
    path = TEMPLATE_DIR / "hooks" / "pre_gen_project.py"
    spec = importlib.util.spec_from_file_location("pre_gen_project", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _escaped(text: str, quote: str) -> str:
    """Backslashes, the quote and control characters escaped; everything else as is.

    Both Python and TOML read these escapes the same way; the pre-gen hook refuses
    control characters anyway, so in practice only `\\` and the quote change.
    """
    out = []
    for char in text:
        if char in ("\\", quote):
            out.append("\\" + char)
        elif ord(char) < 0x20 or ord(char) == 0x7F:
            out.append(f"\\u{ord(char):04x}")
        else:
            out.append(char)
    return "".join(out)


def toml_string(text: str) -> str:
    """A TOML basic string. Not `tojson`: it writes emoji as surrogate pairs, which TOML refuses."""
    return f'"{_escaped(text, chr(34))}"'


def python_string(text: str) -> str:
    """A Python string literal exactly as `ruff format` writes it, so lint stays clean.

    ruff prefers double quotes unless the text holds more double than single quotes.
    """
    quote = "'" if text.count('"') > text.count("'") else '"'
    return f"{quote}{_escaped(text, quote)}{quote}"


def template_dir() -> str:
    """The template's folder, absolute, when called while a hook is rendered.

    Cookiecutter renders and runs hooks from the template's folder
    (`run_hook_from_repo_dir`). Not this module's own folder: `python -m cookiecutter`
    puts the working folder first on sys.path, so a local_extensions.py there (another
    checkout of this template) would be the one imported.
    """
    return os.getcwd()


class TemplateExtension(Extension):
    def __init__(self, environment):
        super().__init__(environment)
        # Loaded per environment: under cruft, the hooks of the commit being rendered.
        pre_gen = load_pre_gen()

        def checked(value: object, field: str) -> str:
            error = pre_gen.check(field, value)
            if error:
                raise AnswerRefused(error)
            return ""

        environment.filters.update(
            checked=checked, python_string=python_string, toml_string=toml_string
        )
        environment.globals["template_dir"] = template_dir
