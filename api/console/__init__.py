"""The ops console: server-rendered HTML pages at /ops/ui for people, over the same code paths as
the ops API. Mounted by `create_app` with `install_console(app)`."""

from api.console.router import install_console

__all__ = ["install_console"]
