"""An ASGI app served over real HTTP by uvicorn inside the test's event loop (next to the Temporal
client the app uses), for what must talk to a real socket: a CLI, a browser, schemathesis, the
Temporal CLI calling our codec server."""

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import uvicorn
from starlette.types import ASGIApp


def free_socket() -> socket.socket:
    """A socket bound to a free local port; handing the socket itself to uvicorn leaves no window
    in which another process could take the port."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    return sock


def origin_of(sock: socket.socket) -> str:
    return f"http://127.0.0.1:{sock.getsockname()[1]}"


@asynccontextmanager
async def serving(app: ASGIApp, *sockets: socket.socket) -> AsyncIterator[None]:
    """`app` served by uvicorn on `sockets`, as a task on the test session's event loop."""
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False))
    task = asyncio.create_task(server.serve(sockets=list(sockets)))
    while not server.started:  # uvicorn's own flag: the sockets are listening
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    try:
        yield
    finally:
        server.should_exit = True
        await task
        for sock in sockets:
            sock.close()


@asynccontextmanager
async def served(app: ASGIApp) -> AsyncIterator[str]:
    """`app` on a free local port; yields its base URL."""
    sock = free_socket()
    async with serving(app, sock):
        yield origin_of(sock)
