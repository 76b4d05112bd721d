"""`oms bench`: the order lifecycle measured against the cheapest Temporal workflow and the
cheapest FastAPI + PostgreSQL route doing the same amount of work, in one run on one server."""
