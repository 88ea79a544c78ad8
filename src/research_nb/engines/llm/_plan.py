"""The research plan the engine makes itself, for a small model (whose own plans wander), when the offline
engine's question analysis finds no record that decides the question (an overview, a multi-part question): one
sub-question per entity the question names (as the analysis read them, else the corpus's names it mentions),
each searched with the question's own words, or the question as it is when it names none.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from research_nb.models.research import ResearchBrief, SubQuestion


def named_entities(text: str, names: Sequence[str]) -> list[str]:
    """The `names` that `text` mentions as whole words, in the order it mentions them; a longer name wins over
    one inside it ("South Korea", not "Korea")."""
    found: list[tuple[int, str]] = []
    taken: list[tuple[int, int]] = []
    for name in sorted(set(names), key=len, reverse=True):
        for match in re.finditer(rf"(?i)(?<!\w){re.escape(name)}(?!\w)", text):
            span = match.span()
            if any(span[0] < end and start < span[1] for start, end in taken):
                continue
            taken.append(span)
            found.append((span[0], name))
            break
    return [name for _, name in sorted(found)]


def engine_brief(question: str, entities: Sequence[str], limit: int) -> ResearchBrief:
    entities = list(dict.fromkeys(entities))[:limit]
    if not entities:
        return ResearchBrief(
            objective=question, sub_questions=[SubQuestion(id="sq-1", question=question, queries=[question])]
        )
    topic = question
    for entity in entities:
        topic = re.sub(rf"(?i)(?<!\w){re.escape(entity)}(?!\w)", " ", topic)
    topic = " ".join(topic.split())
    sub_questions = [
        SubQuestion(id=f"sq-{n}", question=f"{entity}: {question}", queries=[f"{entity} {topic}"], entity=entity)
        for n, entity in enumerate(entities, start=1)
    ]
    return ResearchBrief(objective=question, sub_questions=sub_questions, comparison=len(entities) > 1)
