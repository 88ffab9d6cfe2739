"""MkDocs hook: fill the config and CLI reference pages from the code, so they cannot drift from it.

``<!-- generated: config-reference -->`` becomes one table per config model (field, type, default, description,
taken from the pydantic models); ``<!-- generated: cli-reference -->`` becomes the ``--help`` text of the
``typedrl`` command and each of its subcommands, from the argparse parser itself; a line ``--8<-- PATH`` becomes
the text of the repository file PATH (so examples shown in the docs are the files that are tested);
``<!-- bench-table: NAME -->`` and ``<!-- bench-figure: NAME FIGURE -->`` become the measured figures of the committed
``bench/results/NAME.json`` (``docs/bench_tables.py``), so no benchmark figure is typed by hand.
"""

import argparse
from pathlib import Path
from typing import Any

from bench_tables import BenchTableError, render_markers  # docs/bench_tables.py: MkDocs puts docs/ on the path
from mkdocs.exceptions import PluginError
from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from typedrl.cli import build_parser
from typedrl.config import PPO_PRESETS, REINFORCE_PRESETS, EvalConfig, PPOConfig, ReinforceConfig

INCLUDE_PREFIX = "--8<-- "
CONFIG_MARKER = "<!-- generated: config-reference -->"
CLI_MARKER = "<!-- generated: cli-reference -->"


ROOT = Path(__file__).resolve().parent.parent  # the repository: include paths are relative to it, not to the cwd
BENCH_RESULTS = ROOT / "bench" / "results"


def _type_name(annotation: Any) -> str:
    """``float``, or ``float`` or ``None`` for a union: code spans joined by words (a ``|`` inside a table cell
    would need escaping, and Markdown shows the escape inside code)."""
    text = annotation.__name__ if isinstance(annotation, type) else str(annotation)
    text = text.replace("typing.", "").replace("typedrl.config.", "")
    return " or ".join(f"`{part.strip()}`" for part in text.split("|"))


def _default(field: FieldInfo) -> str:
    if field.default is not PydanticUndefined:
        return f"`{field.default!r}`"
    if field.default_factory is not None:
        return "see below"
    return "required"


def _table(model: type[BaseModel]) -> str:
    rows = ["| field | type | default | description |", "|---|---|---|---|"]
    for name, field in model.model_fields.items():
        rows.append(f"| `{name}` | {_type_name(field.annotation)} | {_default(field)} | {field.description} |")
    return "\n".join(rows)


def config_reference() -> str:
    """The generated config reference (markdown)."""
    sections = []
    for model in (PPOConfig, ReinforceConfig, EvalConfig):
        doc = (model.__doc__ or "").strip().split("\n\n")[0].replace("\n", " ")
        sections.append(f"## `{model.__name__}`\n\n{doc}\n\n{_table(model)}")
    for title, table in (("PPO presets", PPO_PRESETS), ("REINFORCE presets", REINFORCE_PRESETS)):
        presets = [f"## {title}", "", "| preset | differs from the defaults in |", "|---|---|"]
        for name, values in table.items():
            changes = ", ".join(f"`{key}={value!r}`" for key, value in values.items()) or "nothing (the defaults)"
            presets.append(f"| `{name}` | {changes} |")
        sections.append("\n".join(presets))
    return "\n\n".join(sections)


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def cli_reference() -> str:
    """The generated CLI reference (markdown): every command's ``--help``."""
    parser = build_parser()
    parts = ["## `typedrl`", "", "```text", parser.format_help().rstrip(), "```"]
    for name, subparser in _subparsers(parser).items():
        parts += ["", f"## `typedrl {name}`", "", "```text", subparser.format_help().rstrip(), "```"]
    return "\n".join(parts)


def include_files(markdown: str) -> str:
    """Replace each line ``--8<-- PATH`` with the text of the repository file PATH."""
    lines = []
    for line in markdown.splitlines():
        if line.startswith(INCLUDE_PREFIX):
            lines.append((ROOT / line[len(INCLUDE_PREFIX) :].strip()).read_text(encoding="utf-8").rstrip("\n"))
        else:
            lines.append(line)
    return "\n".join(lines) + "\n"


def on_page_markdown(markdown: str, *, page: Any, **_: Any) -> str:
    """MkDocs entry point: replace the markers on the page being built."""
    markdown = include_files(markdown)
    try:
        markdown = render_markers(markdown, BENCH_RESULTS)
    except BenchTableError as error:
        raise PluginError(f"{page.file.src_path}: {error}") from None
    if CONFIG_MARKER in markdown:
        markdown = markdown.replace(CONFIG_MARKER, config_reference())
    if CLI_MARKER in markdown:
        markdown = markdown.replace(CLI_MARKER, cli_reference())
    return markdown
