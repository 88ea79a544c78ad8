"""What the engine knows of a corpus is kept beside its index: a later process reads it back instead of reading
the corpus again, gets the same report, and never reads another index's (or another version's) knowledge."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from research_nb.core.workflow import ResearchWorkflow
from research_nb.engines.offline import Knowledge, OfflineEngine, _knowledge
from research_nb.models.research import ResearchOptions, ResearchStage
from research_nb.sources.corpus import Corpus, DocumentTexts

FIXTURES = Path(__file__).parent / "fixtures"
QUESTION = "Who built the harbour library in Kalmar?"


@pytest.fixture
def notes(tmp_path: Path) -> Path:
    return Path(shutil.copytree(FIXTURES / "hops", tmp_path / "hops"))


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts the times a corpus is read for its knowledge (`Knowledge.of`)."""
    counted: list[int] = []
    read = Knowledge.of.__func__  # type: ignore[attr-defined]

    def counting(cls: type[Knowledge], corpus: Corpus) -> Knowledge:
        counted.append(corpus.num_passages)
        knowledge: Knowledge = read(cls, corpus)
        return knowledge

    monkeypatch.setattr(Knowledge, "of", classmethod(counting))
    return counted


async def report_in_a_new_process(cache: Path, notes: Path) -> str:
    """A run as a new process makes it: nothing open, nothing known in memory (the cache on disk is shared)."""
    Corpus.close_open()
    flow = ResearchWorkflow()
    flow.engines.register("offline", lambda: OfflineEngine(cache_dir=cache, in_worker=False))
    state = await flow.run(QUESTION, options=ResearchOptions(sources=[str(notes)], clarify=False))
    assert state.current_stage is ResearchStage.COMPLETED and state.report is not None
    return state.report.markdown


def saved_knowledge(cache: Path) -> list[Path]:
    return sorted(cache.rglob("offline-knowledge-*.pickle"))


async def test_the_knowledge_of_an_index_is_read_back_by_later_processes_with_the_same_report(
    tmp_path: Path, notes: Path, reads: list[int]
) -> None:
    cache = tmp_path / "cache"
    built = await report_in_a_new_process(cache, notes)  # builds the index: keeps no knowledge (a cold start)
    assert len(reads) == 1 and saved_knowledge(cache) == []

    second = await report_in_a_new_process(cache, notes)  # the index from the cache: reads and keeps it
    assert len(reads) == 2 and len(saved_knowledge(cache)) == 1

    third = await report_in_a_new_process(cache, notes)
    assert len(reads) == 2  # read back, not read again
    assert built == second == third


async def test_a_changed_input_has_a_new_index_and_its_knowledge_is_read_from_it(
    tmp_path: Path, notes: Path, reads: list[int]
) -> None:
    cache = tmp_path / "cache"
    for _ in range(2):
        before = await report_in_a_new_process(cache, notes)
    (notes / "kalmar.md").write_text(
        "# Kalmar\n\nThe harbour library in Kalmar was built by the shipwright Ada Holm in 1911.\n", encoding="utf-8"
    )
    after = await report_in_a_new_process(cache, notes)

    assert len(reads) == 3 and "Ada Holm" in after and "Ada Holm" not in before


@pytest.mark.parametrize("damage", [b"", b"not a pickle", b"\x80\x05K\x01."])  # empty, garbage, another object
async def test_a_damaged_saved_knowledge_is_read_again_from_the_corpus(
    tmp_path: Path, notes: Path, reads: list[int], damage: bytes
) -> None:
    cache = tmp_path / "cache"
    for _ in range(2):
        good = await report_in_a_new_process(cache, notes)
    (saved,) = saved_knowledge(cache)
    saved.write_bytes(damage)

    again = await report_in_a_new_process(cache, notes)

    assert len(reads) == 3 and again == good


async def test_knowledge_kept_by_another_version_of_the_engine_is_not_read(
    tmp_path: Path, notes: Path, reads: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = tmp_path / "cache"
    for _ in range(2):
        await report_in_a_new_process(cache, notes)
    monkeypatch.setattr(_knowledge, "_code_version", lambda: "another-version")

    await report_in_a_new_process(cache, notes)

    assert len(reads) == 3 and len(saved_knowledge(cache)) == 2


def test_the_documents_read_while_the_factbook_is_indexed_are_what_its_index_gives_afterwards(
    tmp_path: Path,
) -> None:
    given: list[list[DocumentTexts]] = []

    corpus = Corpus.open([], builtins=("factbook",), cache_dir=tmp_path, on_documents=given.append)

    assert len(given) == 1
    assert given[0] == [(doc_id, title, corpus.headed_texts(doc_id)) for doc_id, title in corpus.titles().items()]
    assert Knowledge.of_texts(given[0]).facts.documents == Knowledge.of(corpus).facts.documents
