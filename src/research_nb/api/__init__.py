"""The HTTP front (optional extra `server`): `research_nb.api.main:app`, served by `research-nb serve`.

It speaks the wire format of the seed's HTTP clients (REST bodies, status codes, SSE event/type pairs) over the
same `workflow` and `task_manager` singletons as the notebook.
"""
