"""Pure data models: no I/O, no asyncio."""

from research_nb.models.api_models import APIKeys, ErrorResponse, ResearchRequest, ResearchResponse
from research_nb.models.research import ResearchOptions, ResearchReport, ResearchStage, ResearchState

__all__ = [
    "APIKeys",
    "ErrorResponse",
    "ResearchOptions",
    "ResearchReport",
    "ResearchRequest",
    "ResearchResponse",
    "ResearchStage",
    "ResearchState",
]
