"""Batches in a real kernel: `%%research --batch`, `%research batch FILE`, `%research resume BATCH_ID`, and the batch
widget driven as the browser drives it (Cancel all, open a finished run)."""

from __future__ import annotations

from pathlib import Path

from kernel_session import WIDGET_VIEW, CellResult, KernelSession

BATCH_WIDGET = "research_nb.notebook.batch.BatchWidget"


def batch_widget_id(kernel: KernelSession, cell: CellResult) -> str:
    assert cell.result is not None and WIDGET_VIEW in cell.result, f"no widget in {cell.result}"
    box = kernel.models[cell.result[WIDGET_VIEW]["model_id"]]
    for child in box["children"]:
        child_id = str(child.removeprefix("IPY_MODEL_"))
        if kernel.models.get(child_id, {}).get("_anywidget_id") == BATCH_WIDGET:
            return child_id
    raise AssertionError(f"no BatchWidget among {box['children']}")


def test_cancel_all_from_the_widget_and_resume_with_the_magic(kernel: KernelSession) -> None:
    shown = kernel.run(
        "%%research --batch --engine memory --no-clarify\nNorway economy?\nSweden economy?\n\nChile economy?\n"
    )
    widget = batch_widget_id(kernel, shown)
    kernel.run("batch = _; await gate.reached(3)")  # the default 4 lanes: all three runs are under way
    assert kernel.models[widget]["counts"]["remaining"] == 3

    kernel.send_to_widget(widget, {"type": "cancel"})
    state = kernel.wait_for_widget(widget, finished=True)
    assert state["counts"] == {"total": 3, "completed": 0, "failed": 0, "cancelled": 3, "remaining": 0}

    kernel.run("gate.open()")
    batch_id = kernel.eval("batch.batch_id")  # the magic takes the id as typed: no {} expansion in magics
    resumed = kernel.run(f"%research resume {batch_id}")
    again = batch_widget_id(kernel, resumed)
    final = kernel.wait_for_widget(again, finished=True)
    assert final["counts"]["completed"] == 3
    assert [run["question"] for run in final["runs"]] == ["Norway economy?", "Sweden economy?", "Chile economy?"]


def test_a_batch_file_with_a_bad_line_and_a_finished_run_opened_from_the_widget(
    kernel: KernelSession, tmp_path: Path
) -> None:
    questions = tmp_path / "questions.jsonl"
    questions.write_text('{"id": "no", "question": "Norway economy?"}\n{"id": "bad", "question": "  "}\n')
    kernel.run("gate.open()")
    shown = kernel.run(f"%research batch {questions} --engine memory --no-clarify")
    widget = batch_widget_id(kernel, shown)
    final = kernel.wait_for_widget(widget, finished=True)
    assert (final["counts"]["completed"], final["counts"]["failed"]) == (1, 1)
    assert final["errors"][0]["id"] == "bad" and "empty" in final["errors"][0]["message"]

    kernel.send_to_widget(widget, {"type": "open", "position": 0})
    assert kernel.wait_for_widget(widget, opened="no")["action_error"] == ""
    kernel.send_to_widget(widget, {"type": "open", "position": 1})
    assert "bad: no report" in kernel.wait_for_widget_field(widget, "action_error")


def test_a_missing_batch_file_is_one_line(kernel: KernelSession) -> None:
    cell = kernel.run("%research batch no-such-file.txt")
    assert cell.error is None and cell.stderr.strip().startswith("%research: no such file")
