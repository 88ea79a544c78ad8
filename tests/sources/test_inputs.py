"""What a run start asks of the user's paths, in the kernel: whether they exist (a typo is refused at once) and
whether they hold enough to research in the worker. Neither may walk a whole big folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from research_nb.core.errors import SourceError
from research_nb.sources._inputs import check_inputs, inputs_hold, resolve_inputs


def make_folder(root: Path, files: int, size: int) -> Path:
    folder = root / "notes"
    (folder / "deeper").mkdir(parents=True)
    for n in range(files):
        where = folder / "deeper" if n % 2 else folder
        (where / f"note-{n:04d}.md").write_text("x" * size)
    (folder / "picture.png").write_bytes(b"\x89PNG" * 1000)  # not a type the corpus reads: not counted
    (folder / ".hidden.md").write_text("y" * 100_000)  # hidden: skipped, as the corpus skips it
    return folder


def test_inputs_hold_says_what_the_resolved_files_add_up_to(tmp_path: Path) -> None:
    folder = make_folder(tmp_path, files=7, size=1000)
    total = sum(f.size for f in resolve_inputs([folder]).files)
    assert total == 7000
    assert inputs_hold([folder], total)
    assert not inputs_hold([folder], total + 1)
    assert inputs_hold([folder, tmp_path / "notes" / "note-0000.md"], 1000)


def counting_stats(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """Every `Path.stat` call from now on, recorded."""
    calls: list[Path] = []
    real_stat = Path.stat

    def counting_stat(self: Path, **kwargs: bool) -> object:
        calls.append(self)
        return real_stat(self, **kwargs)

    monkeypatch.setattr(Path, "stat", counting_stat)
    return calls


def test_inputs_hold_stops_at_the_first_files_that_reach_the_size(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = make_folder(tmp_path, files=600, size=200)
    stats = counting_stats(monkeypatch)
    assert inputs_hold([folder], 1000)
    assert len(stats) < 20  # five files' worth, and the folders walked
    stats.clear()
    resolve_inputs([folder])
    assert len(stats) >= 600  # the whole listing stats every file


def test_checking_paths_refuses_a_typo_without_walking_the_folders(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = make_folder(tmp_path, files=600, size=200)
    stats = counting_stats(monkeypatch)
    check_inputs([folder, folder / "note-0000.md", str(folder / "deeper" / "*.md")])
    assert len(stats) < 20
    with pytest.raises(SourceError, match="nowhere"):
        check_inputs([folder, tmp_path / "nowhere"])
    with pytest.raises(SourceError, match="No file matches"):
        check_inputs([str(folder / "*.docx")])


def test_a_missing_path_is_the_same_error_as_when_the_run_opens_it(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="nowhere"):
        inputs_hold([tmp_path / "nowhere"], 1)
    with pytest.raises(SourceError, match="nowhere"):
        resolve_inputs([tmp_path / "nowhere"])
