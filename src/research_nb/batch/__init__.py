"""Many research runs at once: `research_many(questions, ...)` in this process or on a Dask cluster, durable in
the run store (`resume_batch(batch_id)` after a restart runs only what is missing)."""

from research_nb.batch._backend import Backend, InProcessBackend, Job, JobOutcome
from research_nb.batch._manifest import BatchItem
from research_nb.batch._questions import BatchQuestion, questions_from_lines, read_questions
from research_nb.batch._run import BatchProgress, BatchRun, BatchStates, research_many, resume_batch

__all__ = [
    "Backend",
    "BatchItem",
    "BatchProgress",
    "BatchQuestion",
    "BatchRun",
    "BatchStates",
    "InProcessBackend",
    "Job",
    "JobOutcome",
    "questions_from_lines",
    "read_questions",
    "research_many",
    "resume_batch",
]
