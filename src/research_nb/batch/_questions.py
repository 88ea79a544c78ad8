"""The questions of a batch: from a list, `(id, question)` pairs, a pandas Series or DataFrame column, or a file."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from research_nb.core.errors import UserInputError

#: Column names tried, in order, when a CSV or JSONL file has several columns and none is named.
QUESTION_COLUMNS = ("question", "query", "text")


class BatchQuestion(BaseModel):
    """One question of a batch and the id the user knows it by (its position when none was given)."""

    id: str
    question: str


def batch_questions(questions: Any, *, column: str | None = None) -> list[BatchQuestion]:
    """Normalise what `research_many` accepts. Ids must be unique: they key the results and a resumed batch."""
    if hasattr(questions, "columns") and hasattr(questions, "iterrows"):  # a pandas DataFrame
        name = column or _pick_column(list(map(str, questions.columns)), "the DataFrame")
        if name not in questions.columns:
            raise UserInputError(f"the DataFrame has no column {name!r}; its columns: {list(questions.columns)}")
        questions = questions[name]
    if hasattr(questions, "items") and hasattr(questions, "index") and not isinstance(questions, dict):
        pairs: Iterable[Any] = ((str(key), value) for key, value in questions.items())  # a pandas Series
    elif isinstance(questions, str | bytes):
        raise UserInputError("research_many takes a list of questions, not one string: use research() for one")
    else:
        try:
            pairs = list(questions)
        except TypeError:
            raise UserInputError(
                f"questions must be a list of strings or (id, question) pairs, not {type(questions).__name__}"
            ) from None
    items: list[BatchQuestion] = []
    for position, entry in enumerate(pairs):
        if isinstance(entry, tuple | list) and len(entry) == 2:
            key, text = entry
        else:
            key, text = str(position), entry
        items.append(BatchQuestion(id=str(key), question=text if isinstance(text, str) else str(text)))
    if not items:
        raise UserInputError("the batch has no questions")
    seen: set[str] = set()
    for item in items:
        if item.id in seen:
            raise UserInputError(f"the question id {item.id!r} appears twice; ids must be unique in a batch")
        seen.add(item.id)
    return items


def read_questions(path: str | Path, *, column: str | None = None) -> list[BatchQuestion]:
    """Questions from a file: one per line (.txt and anything else), a CSV column, or a JSONL field."""
    file = Path(path).expanduser()
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UserInputError(f"no such file: {file}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UserInputError(f"cannot read {file}: {exc}") from None
    suffix = file.suffix.lower()
    if suffix == ".csv":
        rows = list(csv.DictReader(io.StringIO(text)))
        name = column or _pick_column(list(rows[0]) if rows else [], str(file))
        return batch_questions([(row.get("id") or str(n), row.get(name) or "") for n, row in enumerate(rows)])
    if suffix in (".jsonl", ".ndjson"):
        records = []
        for number, line in enumerate(text.splitlines(), 1):
            if line.strip():
                try:
                    records.append(json.loads(line))
                except json.JSONDecodeError as exc:
                    raise UserInputError(f"{file} line {number} is not JSON: {exc.msg}") from None
        if not all(isinstance(r, dict) for r in records):
            raise UserInputError(f"every line of {file} must be a JSON object")
        name = column or _pick_column(list(records[0]) if records else [], str(file))
        return batch_questions([(str(r.get("id", n)), r.get(name, "")) for n, r in enumerate(records)])
    return questions_from_lines(text)


def questions_from_lines(text: str) -> list[BatchQuestion]:
    """One question per non-blank line (a `%%research --batch` cell, a .txt file)."""
    return batch_questions([line.strip() for line in text.splitlines() if line.strip()])


def _pick_column(columns: list[str], where: str) -> str:
    if len(columns) == 1:
        return columns[0]
    for name in QUESTION_COLUMNS:
        if name in columns:
            return name
    raise UserInputError(f"which column of {where} holds the questions? pass column=...; columns: {columns}")
