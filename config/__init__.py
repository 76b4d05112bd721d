"""Configuration and the clients every process builds from it.

    settings.py          every `OMS_*` variable, read once (pydantic-settings)
    production_guard.py  what `oms api` / `oms worker` refuse outside the dev stack
    logs.py              one log format, personal data masked
    database.py          the database URL (embedded PostgreSQL unless OMS_DATABASE_URL), migrations, seed
    temporal.py          the one Temporal client builder, and the dev server's command line
    codec.py             the payload codec (AES-GCM) and the shared pydantic data converter
    sandbox.py           the workflow sandbox runner the worker uses
"""
