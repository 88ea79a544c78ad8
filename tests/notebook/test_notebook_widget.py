"""The widget's actions, sent as the browser sends them: comm messages to the widget's model."""

from __future__ import annotations

from kernel_session import KernelSession

QUESTION = "How do the economies of Norway and Sweden differ?"
ASKING_ENGINE = """
from engines_for_tests import MemoryEngine
from research_nb.models.clarification import ClarificationChoice, ClarificationQuestion
asking = MemoryEngine(questions=[
    ClarificationQuestion(id="focus", question="Which <b>aspect</b> matters most?", is_required=True),
    ClarificationQuestion(id="period", question="Which period?", question_type="choice", choices=[
        ClarificationChoice(id="now", label="today"), ClarificationChoice(id="past", label="the 1990s"),
    ]),
])
workflow.engines.register("asking", lambda: asking)
"""


def start(kernel: KernelSession, engine: str = "memory") -> str:
    shown = kernel.run(f'run = %research --engine {engine} "{QUESTION}"\nrun')
    return kernel.research_widget_id(shown)


def test_cancel_from_the_widget_ends_the_run_cancelled_with_a_partial_report(kernel: KernelSession) -> None:
    widget = start(kernel)
    kernel.run("await gate.reached(1)")
    waiting = kernel.submit("state = await run")  # a cell awaits the run while the click arrives

    kernel.send_to_widget(widget, {"type": "cancel"})

    assert kernel.collect(waiting).error is None
    final = kernel.wait_for_widget(widget, status="cancelled")
    assert final["cancel_reason"] == "Cancelled by user" and final["has_report"]
    stopped_at = {s["id"]: s["state"] for s in final["stages"]}
    assert stopped_at["brief_generation"] == "done" and stopped_at["research_execution"] == "stopped"
    report = kernel.eval("state.current_stage.value, state.report.metadata.partial, len(state.passages) > 0")
    assert report == ("cancelled", True, True)


def test_cancel_is_idempotent(kernel: KernelSession) -> None:
    widget = start(kernel)
    kernel.run("await gate.reached(1)")
    for _ in range(3):
        kernel.send_to_widget(widget, {"type": "cancel"})
    kernel.wait_for_widget(widget, status="cancelled")
    kernel.send_to_widget(widget, {"type": "cancel"})  # after the end: nothing happens, nothing breaks
    assert kernel.eval("run.cancel(), run.status, run.state.cancel_reason") == (False, "cancelled", "Cancelled by user")
    finished = [m for m in kernel.widget_updates if m["content"]["data"]["state"].get("status") == "cancelled"]
    assert len(finished) == 1
    assert kernel.eval("1 + 1") == 2


def test_a_cancelled_run_resumes_and_the_widget_follows_it_to_the_end(kernel: KernelSession) -> None:
    widget = start(kernel)
    kernel.run("await gate.reached(1)\nrun.cancel()\nawait run")
    kernel.wait_for_widget(widget, status="cancelled")

    kernel.run("gate.open()\nrun.resume()\nstate = await run")

    final = kernel.wait_for_widget(widget, status="completed")
    assert final["cancel_reason"] == "" and final["progress"] == 1.0
    assert all(step["state"] == "done" for step in final["stages"])
    assert kernel.eval("state.current_stage.value, state.report.metadata.partial") == ("completed", False)


def test_the_resume_button_of_a_stopped_run_resumes_it_as_the_magic_does(kernel: KernelSession) -> None:
    widget = start(kernel)
    kernel.run("await gate.reached(1)\nrun.cancel()\nawait run")
    kernel.wait_for_widget(widget, status="cancelled")
    kernel.run("gate.open()")

    kernel.send_to_widget(widget, {"type": "resume"})

    final = kernel.wait_for_widget(widget, status="completed")
    assert final["action_error"] == "" and final["cancel_reason"] == ""
    assert kernel.eval("run.state.current_stage.value, run.state.report.metadata.partial") == ("completed", False)
    kernel.send_to_widget(widget, {"type": "resume"})  # a completed run does not resume: the widget says why
    assert "only a stopped run resumes" in kernel.wait_for_widget_field(widget, "action_error")


def test_clarifying_questions_are_shown_and_answering_them_resumes_the_run(kernel: KernelSession) -> None:
    kernel.run(ASKING_ENGINE + "\ngate.open()")
    widget = start(kernel, engine="asking")
    assert kernel.eval("(await run).awaiting_clarification") is True
    shown = kernel.wait_for_widget(widget, status="awaiting_clarification")
    assert [q["id"] for q in shown["clarification"]["questions"]] == ["focus", "period"]
    assert shown["clarification"]["questions"][0]["question"] == "Which <b>aspect</b> matters most?"

    # a required question left out: the widget says so and the run keeps waiting
    kernel.send_to_widget(
        widget, {"type": "clarification", "answers": [{"question_id": "period", "selection": {"id": "now"}}]}
    )
    error = kernel.wait_for_widget_field(widget, "action_error")
    assert "'focus' is required" in error
    assert kernel.eval("run.status") == "awaiting_clarification"

    answers = [{"question_id": "focus", "text": "exports"}, {"question_id": "period", "selection": {"id": "past"}}]
    kernel.send_to_widget(widget, {"type": "clarification", "answers": answers})
    final = kernel.wait_for_widget(widget, status="completed")
    assert final["clarification"] is None and final["action_error"] == ""
    assert kernel.eval("run.state.brief.objective") == f"{QUESTION} (focus: exports; the 1990s)"


def test_clarifying_questions_can_be_skipped(kernel: KernelSession) -> None:
    kernel.run(ASKING_ENGINE + "\ngate.open()")
    widget = start(kernel, engine="asking")
    kernel.wait_for_widget(widget, status="awaiting_clarification")
    kernel.send_to_widget(widget, {"type": "skip"})
    kernel.wait_for_widget(widget, status="completed")
    assert kernel.eval("run.state.brief.objective") == QUESTION


def test_cancel_while_waiting_for_answers_ends_the_run(kernel: KernelSession) -> None:
    kernel.run(ASKING_ENGINE)
    widget = start(kernel, engine="asking")
    kernel.wait_for_widget(widget, status="awaiting_clarification")
    kernel.send_to_widget(widget, {"type": "cancel"})
    final = kernel.wait_for_widget(widget, status="cancelled")
    assert final["clarification"] is None
    assert kernel.eval("run.status") == "cancelled"


def test_answers_from_python_resume_the_run_too(kernel: KernelSession) -> None:
    kernel.run(ASKING_ENGINE + "\ngate.open()")
    kernel.run(f'run = %research --engine asking --no-widget "{QUESTION}"\nawait run')
    kernel.run('run.answer({"focus": "energy", "period": "now"})\nstate = await run')
    assert kernel.eval("state.current_stage.value, state.brief.objective") == (
        "completed",
        f"{QUESTION} (focus: energy; today)",
    )
