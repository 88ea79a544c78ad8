"""`research-nb`: research a question in a terminal, or `research-nb serve` for the HTTP API.

    research-nb "How do the economies of Norway and Sweden differ?"
    research-nb "What do my notes say about caching?" --sources notes/ --json
    research-nb "Why are there two high tides a day?" --engine llm --model openai:gpt-4o-mini --budget '$0.05'
    research-nb "How do Norway and Sweden differ?" --output report.html   # or --format md|html|json|pdf
    research-nb serve --port 8000
    research-nb runs [--delete ID] [--delete-older-than DAYS]     # stored runs
    research-nb resume ID                                          # continue a stopped run

Progress goes to stderr, the report (or, with --json, the final state) to stdout, so output can be piped.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import sys
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path
from typing import NoReturn, TextIO

from pydantic import ValidationError

from research_nb.core.errors import UserInputError, describe_validation_error
from research_nb.core.events import ResearchEvent
from research_nb.core.flags import add_research_flags, check_engine, given_options, in_flag_terms
from research_nb.core.protocols import Engine
from research_nb.core.workflow import workflow
from research_nb.export import EXPORT_FORMATS, export_state, export_text, format_of
from research_nb.models.api_models import ResearchRequest
from research_nb.models.clarification import ChoiceSelection, ClarificationAnswer, ClarificationResponse
from research_nb.models.research import ResearchStage, ResearchState, new_request_id, utcnow

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_CANCELLED = 0, 1, 2, 130


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    commands = {"serve": _serve, "runs": _runs, "resume": _resume, "cache": _cache}
    if args[:1] and args[0] in commands:
        return commands[args[0]](args[1:])
    return _research(args)


class _OneLineParser(argparse.ArgumentParser):
    """A mistake on the command line is one line (argparse would print the whole usage above it)."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: {message} (try {self.prog} --help)\n")


def research_parser() -> argparse.ArgumentParser:
    """The CLI's parser: the research flags `%research` takes too (`research_nb.core.flags`), and its own."""
    parser = _OneLineParser(
        prog="research-nb",
        description="Research a question; print a cited report. Other commands: serve, runs, resume.",
        allow_abbrev=False,
    )
    parser.add_argument("question", help="the research question")
    add_research_flags(parser.add_argument_group("research options (the same as %research's)"))
    parser.add_argument("--json", action="store_true", help="print the final state as JSON")
    _export_arguments(parser)
    parser.add_argument("--quiet", action="store_true", help="no progress on stderr")
    return parser


def parse_request(argv: Sequence[str]) -> tuple[ResearchRequest, argparse.Namespace]:
    """The request a command line asks for; a `UserInputError` (in flag terms) for options that cannot work,
    export options included (refused before the research starts, so no run's work is lost to them)."""
    args = research_parser().parse_args(argv)
    if (problem := _export_problem(args)) is not None:
        raise UserInputError(problem)
    options = given_options(args)
    check_engine(options.get("engine", "offline"), options)
    try:
        return ResearchRequest(query=args.question, **options), args
    except ValidationError as exc:
        raise UserInputError(describe_validation_error(exc)) from None


def _in_process_offline_engine() -> Engine:
    from research_nb.engines.offline import OfflineEngine

    return OfflineEngine(in_worker=False)


def _offline_in_process() -> None:
    """A command runs its offline research in this process (in threads), not in a research worker: it has no
    kernel to keep responsive, and a worker is a second interpreter importing research-nb again before the work
    starts (0.5-0.7 s of a cold run; docs/workers.md)."""
    workflow.engines.register("offline", _in_process_offline_engine)


def _research(argv: list[str]) -> int:
    try:
        request, args = parse_request(argv)
    except UserInputError as exc:
        return _usage_error(str(exc))
    _offline_in_process()
    request_id = new_request_id()
    try:
        state = asyncio.run(_run(request, request_id, sys.stderr if not args.quiet else None))
    except UserInputError as exc:
        return _usage_error(str(exc))
    except KeyboardInterrupt:
        state = workflow.require_state(request_id)
    return _finish(state, args)


def _exit_code(state: ResearchState) -> int:
    if state.current_stage is ResearchStage.COMPLETED:
        return EXIT_OK
    return EXIT_CANCELLED if state.current_stage is ResearchStage.CANCELLED else EXIT_FAILED


async def _run(request: ResearchRequest, request_id: str, progress: TextIO | None) -> ResearchState:
    workflow.engines.preflight(request.options())  # as the magic does: a model without its key is one line
    state = workflow.prepare(request.query, options=request.options(), request_id=request_id)
    return await _drive(state, progress)


async def _drive(state: ResearchState, progress: TextIO | None) -> ResearchState:
    """Run `state` to its end, asking clarifying questions on the terminal when it pauses for them."""
    callback = (lambda event: _show(event, progress)) if progress else None
    state = await workflow.resume_research(state, stream_callback=callback)
    while state.awaiting_clarification:
        workflow.answer_clarification(state.request_id, _ask(state))
        state = await workflow.resume_research(state, stream_callback=callback)
    return state


def _ask(state: ResearchState) -> ClarificationResponse | None:
    """Ask the clarifying questions on a terminal; without one, skip them (and say so)."""
    assert state.clarification is not None
    if not sys.stdin.isatty():
        print("research-nb: the question is vague; going on without clarification (--no-clarify)", file=sys.stderr)
        return None
    answers = []
    for question in state.clarification.questions:
        print(question.question, file=sys.stderr)
        choices = question.choices or []
        for n, choice in enumerate(choices, start=1):
            print(f"  {n}. {choice.label}", file=sys.stderr)
        reply = input("> ").strip()
        if not reply:
            answers.append(ClarificationAnswer(question_id=question.id, skipped=True))
        elif choices and reply.isdigit() and 1 <= int(reply) <= len(choices):
            choice = choices[int(reply) - 1]
            details = input(f"{choice.details_prompt or 'Details'}: ").strip() if choice.requires_details else None
            answers.append(
                ClarificationAnswer(question_id=question.id, selection=ChoiceSelection(id=choice.id, details=details))
            )
        else:
            answers.append(ClarificationAnswer(question_id=question.id, text=reply))
    return ClarificationResponse(request_id=state.clarification.id, answers=answers)


def _show(event: ResearchEvent, out: TextIO | None) -> None:
    if out is None:
        return
    line = {
        "stage_started": lambda e: f"· {e.stage.value.replace('_', ' ')}",
        "sub_question": lambda e: f"  {e.status}: {e.question}" if e.status != "searching" else "",
        "warning": lambda e: f"  warning: {e.message}",
        "log": lambda e: f"  {e.message}",
        "error": lambda e: f"  error: {e.message}",
    }.get(event.type)
    text = line(event) if line else ""
    if text:
        print(text, file=out, flush=True)


def _print_result(state: ResearchState, *, as_json: bool, report: bool = True) -> None:
    if as_json:
        print(state.model_dump_json(indent=2))
        return
    if state.report is not None and report:
        print(state.report.markdown, end="")
    if state.current_stage is not ResearchStage.COMPLETED:
        reason = state.error_message or state.cancel_reason or state.current_stage.value
        print(f"research-nb: run {state.current_stage.value}: {reason}", file=sys.stderr)


def _export_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--format", choices=EXPORT_FORMATS, help="print (or, with --output, write) the run as this")
    parser.add_argument("--output", metavar="FILE", help="write the report to FILE (format from its suffix)")


def _export_problem(args: argparse.Namespace) -> str | None:
    """Bad export options are refused before the research starts, so no run's work is lost to them."""
    try:
        if args.output is not None:
            format_of(args.output, args.format)
            if not Path(args.output).expanduser().parent.is_dir():
                return f"--output {args.output}: the folder {str(Path(args.output).parent)!r} does not exist"
        elif args.format == "pdf":
            return "--format pdf writes a file: give it with --output report.pdf"
    except UserInputError as exc:
        return str(exc)
    return None


def _finish(state: ResearchState, args: argparse.Namespace) -> int:
    """Print the result, or write it with --output; the exit code says how the run ended."""
    if args.output is None and args.format is None:
        _print_result(state, as_json=args.json)
        return _exit_code(state)
    try:
        if args.output is not None:
            written = export_state(state, args.output, args.format)
            print(f"research-nb: wrote {written}", file=sys.stderr)
        else:
            print(export_text(state, format_of("", args.format)), end="")
    except UserInputError as exc:  # the run is stored: say how to export it again
        _usage_error(f"{exc} (the run is kept: research-nb resume {state.request_id} --output FILE)")
        return EXIT_FAILED
    _print_result(state, as_json=False, report=False)
    return _exit_code(state)


def _runs(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="research-nb runs", description="List or delete stored research runs.")
    parser.add_argument("--delete", action="append", default=[], metavar="ID", help="delete this run")
    parser.add_argument("--delete-older-than", type=float, metavar="DAYS", help="delete runs not updated since")
    args = parser.parse_args(argv)
    store = workflow.store
    assert store is not None
    try:
        for request_id in args.delete:
            print(f"{'deleted' if store.delete(request_id) else 'no such run'}: {request_id}")
    except UserInputError as exc:
        return _usage_error(str(exc))
    if args.delete_older_than is not None:
        deleted = store.delete_older_than(timedelta(days=args.delete_older_than))
        print(f"deleted {len(deleted)} run(s) older than {args.delete_older_than:g} day(s)")
    if args.delete or args.delete_older_than is not None:
        return EXIT_OK
    now = utcnow()
    listing = store.scan()
    for damaged in listing.damaged:  # one line each; the readable runs are listed all the same
        print(f"research-nb: {damaged.line()}", file=sys.stderr)
    for run in listing.runs:
        age = _age(now - run.updated_at) if run.updated_at else "?"
        status = listing.status_of(run)
        print(f"{run.request_id}  {status:<18} {age:>8}  {run.size_bytes / 1024:6.1f} KB  {run.question[:70]}")
    print(f"({store.directory})", file=sys.stderr)
    return EXIT_OK


def _resume(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="research-nb resume", description="Continue a stored run.")
    parser.add_argument("request_id")
    parser.add_argument("--json", action="store_true")
    _export_arguments(parser)
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args(argv)
    if (problem := _export_problem(args)) is not None:
        return _usage_error(problem)
    _offline_in_process()
    try:
        state = workflow.require_state(args.request_id)
        state = asyncio.run(_drive(state, None if args.quiet else sys.stderr))
    except UserInputError as exc:
        return _usage_error(str(exc))
    except KeyboardInterrupt:
        state = workflow.require_state(args.request_id)
    return _finish(state, args)


def _cache(argv: list[str]) -> int:
    """`research-nb cache`: list the cached corpus indexes; `cache clear [KEY]` deletes one, or all."""
    from research_nb.sources.cache import cache_summary, clear_cache

    parser = argparse.ArgumentParser(prog="research-nb cache", description="List or clear the corpus cache.")
    parser.add_argument("action", nargs="?", choices=["list", "clear"], default="list")
    parser.add_argument("key", nargs="?", help="clear: the index to delete (a key prefix); default: everything")
    args = parser.parse_args(argv)
    try:
        if args.action == "clear":
            removed, kept = clear_cache(args.key)
            print(
                f"deleted {removed} cache entr{'y' if removed == 1 else 'ies'}"
                + (f", kept {kept} in use" if kept else "")
            )
            return EXIT_OK
        summary = cache_summary()
    except (UserInputError, ValueError) as exc:
        return _usage_error(str(exc))
    now = utcnow()
    for entry in summary.indexes:
        used = "in use" if entry.in_use else _age(now - entry.last_used) + " ago"
        size = f"{entry.size / 2**20:8.1f} MB"
        print(f"{entry.key[:12]}  {size}  {used:>10}  {entry.passages:>9,} passages  {entry.description}")
    cap = f"cap {summary.max_size / 2**30:.1f} GiB" if summary.max_size else "no cap"
    segments = f"{summary.segments} analysed input(s), {summary.segments_size / 2**20:.1f} MB"
    print(f"{len(summary.indexes)} index(es); {segments}; {cap}")
    print(f"({summary.folder})", file=sys.stderr)
    return EXIT_OK


def _age(delta: timedelta) -> str:
    seconds = delta.total_seconds()
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds / size:.0f} {unit}"
    return f"{seconds:.0f} s"


def _serve(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="research-nb serve", description="Serve the HTTP API.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    args = parser.parse_args(argv)
    try:
        import uvicorn
    except ImportError:
        return _usage_error("the HTTP API needs the server extra: pip install 'research-nb[server]'")
    from research_nb.engines.offline import prebuild

    # The research worker starts now and opens the Factbook (built the first time, at the worker's low priority)
    # while the server starts, so the first offline request finds it open, as a notebook's first %research does.
    prebuild()
    # By import string: the CLI and the API are separate fronts and do not import each other.
    uvicorn.run("research_nb.api.main:app", host=args.host, port=args.port)
    return EXIT_OK


def _usage_error(message: str) -> int:
    print(f"research-nb: {in_flag_terms(message)}", file=sys.stderr)
    return EXIT_USAGE


def entry() -> NoReturn:
    """The `research-nb` command: `main`, then the process's exit."""
    code = main()
    # Frozen, what the process holds is left out of the collections the interpreter runs while it tears down: they
    # went over every object (a run's state, the loaded engine's tables), 0.15-0.2 s of a 2-3 s cold research.
    # Everything is still released, flushed and closed as before.
    gc.freeze()
    raise SystemExit(code)


if __name__ == "__main__":
    entry()
