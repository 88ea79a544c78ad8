"""`%research` / `%%research`: parse the line, start the run, return its handle at once.

A mistake the user can fix (an empty question, an unknown option or engine, a missing path) prints one line and
no traceback; nothing is started and other runs go on. Defaults come from `%config ResearchMagics`:

    %config ResearchMagics.engine = "offline"
    %config ResearchMagics.sources = ["notes/"]
    %config ResearchMagics.max_results = 5
"""

from __future__ import annotations

import sys
from typing import Any

from IPython.core.magic import Magics, line_cell_magic, magics_class, no_var_expand
from traitlets import Bool, Int, List, Unicode

from research_nb.batch import BatchRun, questions_from_lines, read_questions
from research_nb.core.errors import UserInputError
from research_nb.core.flags import check_engine, in_flag_terms
from research_nb.core.workflow import workflow
from research_nb.notebook.batch import resume, start_batch
from research_nb.notebook.help import help_text
from research_nb.notebook.listing import RunRow, RunTable
from research_nb.notebook.parser import ExportCommand, ListCommand, RunCommand, StartCommand, parse_magic
from research_nb.notebook.run import ResearchRun, start_research


@magics_class
class ResearchMagics(Magics):
    """Deep research from a notebook cell. Options set here are the defaults the magic's flags override."""

    engine = Unicode("offline", help="Engine used when --engine is not given").tag(config=True)
    model = Unicode(None, allow_none=True, help="Model for engines that use one (--model)").tag(config=True)
    max_results = Int(10, help="Passages kept per search (--max-results)").tag(config=True)
    sources = List(Unicode(), help="Files, folders or globs researched when --sources is not given").tag(config=True)
    clarify = Bool(True, help="Let the engine ask clarifying questions first (--no-clarify)").tag(config=True)
    widget = Bool(True, help="Show the live progress widget (--no-widget)").tag(config=True)

    def __init__(self, shell: Any = None, **kwargs: Any) -> None:
        super().__init__(shell=shell, **kwargs)
        self.runs: dict[str, ResearchRun] = {}

    @no_var_expand  # `$name` and `{2+2}` are text of the question; interpolate on purpose with research(f"...")
    @line_cell_magic
    def research(self, line: str, cell: str | None = None) -> ResearchRun | BatchRun | RunTable | None:
        """Research a question in the background and show its progress; see `%research help`."""
        try:
            command = parse_magic(line, cell)
            if isinstance(command, StartCommand):
                return self._start(command)
            if isinstance(command, ListCommand):
                return self._list()
            if isinstance(command, RunCommand):
                return self._on_run(command)
            if isinstance(command, ExportCommand):
                written = self._handle(command.request_id).export(command.path)
                print(f"exported run {command.request_id} to {written}")
            else:
                print(help_text())
        except UserInputError as exc:
            print(f"%research: {in_flag_terms(str(exc))}", file=sys.stderr)
        return None

    def _start(self, command: StartCommand) -> ResearchRun | BatchRun:
        # `%config` defaults, then the flags given; the engine's own defaults (and validation) apply to the rest
        options: dict[str, Any] = {
            "engine": self.engine,
            "model": self.model,
            "max_search_results": self.max_results,
            "sources": list(self.sources),
            "clarify": self.clarify,
            **command.options,
        }
        check_engine(options["engine"], command.options)
        if command.batch:
            return _start_batch(command, options)
        show_widget = self.widget if command.widget is None else command.widget
        run = start_research(command.query, widget=show_widget, **options)
        self.runs[run.request_id] = run
        return run

    def _handle(self, request_id: str) -> ResearchRun:
        """This kernel's handle for a run, or a new one for a run known only to the store."""
        run = self.runs.get(request_id)
        if run is None:
            workflow.require_state(request_id)  # UnknownRequestError names the id
            run = self.runs[request_id] = ResearchRun(request_id, widget=self.widget)
        return run

    def _on_run(self, command: RunCommand) -> ResearchRun | BatchRun | None:
        if command.kind == "resume" and command.request_id.startswith("batch-"):
            return resume(command.request_id)
        run = self._handle(command.request_id)
        if command.kind == "open":
            return run
        if command.kind == "resume":
            run.resume()
            return run
        if run.cancel():
            print(f"cancelling run {run.request_id}")
        else:
            print(f"run {run.request_id} is not running (status: {run.status})")
        return None

    def _list(self) -> RunTable:
        """This kernel's runs, then the stored runs of earlier kernels and processes."""
        states = workflow.list_states()
        known = {state.request_id for state in states}
        listing = workflow.store.scan() if workflow.store is not None else None
        rows = [
            RunRow(
                request_id=state.request_id,
                question=state.user_query,
                status=(self.runs.get(state.request_id) or ResearchRun(state.request_id)).status,
                engine=state.options.engine,
                started=state.started_at or state.created_at,
                duration_seconds=state.duration_seconds(),
            )
            for state in states
        ]
        if listing is not None:
            for damaged in listing.damaged:  # one line each; the others are listed
                print(f"%research: {damaged.line()}", file=sys.stderr)
            rows += [
                RunRow(
                    request_id=record.request_id,
                    question=record.question,
                    status=listing.status_of(record),
                    started=record.updated_at,
                    stored=True,
                )
                for record in listing.runs
                if record.request_id not in known
            ]
        return RunTable(rows)


def _start_batch(command: StartCommand, options: dict[str, Any]) -> BatchRun:
    if command.batch_file is not None:
        questions = read_questions(command.batch_file, column=command.column)
    else:
        questions = questions_from_lines(command.query)
    return start_batch([(q.id, q.question) for q in questions], **options)
