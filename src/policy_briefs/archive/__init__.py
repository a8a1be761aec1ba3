"""Source pages: fetch them politely, archive their text with provenance, watch them change.

- ``fetch``: the HTTP client (timeouts, size bound, redirects recorded, retries, robots.txt)
- ``extract``: a page's main text, deterministic plain text
- ``store``: a snapshot file plus its provenance, recorded in sources.yaml in place
- ``watch``: every source re-fetched, its status and whether each quote is still there
"""
