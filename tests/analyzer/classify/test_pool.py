"""The classifiers' keep-alive pool: at most ``size`` requests in flight, connections reused."""

from __future__ import annotations

import anyio
import httpx
import pytest
from anyio.abc import SocketStream

from superbrain_core.analyzer.classify.pool import ConnectionPerSlot, pooled_client

pytestmark = pytest.mark.anyio


class Server:
    """A minimal HTTP/1.1 keep-alive server that counts connections and concurrency."""

    def __init__(self) -> None:
        self.connections = 0
        self.in_flight = 0
        self.most_in_flight = 0

    async def handle(self, stream: SocketStream) -> None:
        self.connections += 1
        buffer = b""
        async with stream:
            while True:
                while b"\r\n\r\n" not in buffer:
                    try:
                        buffer += await stream.receive()
                    except (anyio.EndOfStream, anyio.BrokenResourceError):
                        return
                head, buffer = buffer.split(b"\r\n\r\n", 1)
                length = 0
                for line in head.split(b"\r\n")[1:]:
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value)
                while len(buffer) < length:
                    buffer += await stream.receive()
                body, buffer = buffer[:length], buffer[length:]
                self.in_flight += 1
                self.most_in_flight = max(self.most_in_flight, self.in_flight)
                await anyio.sleep(0.01)
                self.in_flight -= 1
                await stream.send(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                    b"Content-Length: %d\r\n\r\n%s" % (len(body), body)
                )


async def test_requests_share_size_keep_alive_connections() -> None:
    server = Server()
    listener = await anyio.create_tcp_listener(local_host="127.0.0.1")
    port = listener.extra(anyio.abc.SocketAttribute.local_port)
    async with anyio.create_task_group() as tg:
        tg.start_soon(listener.serve, server.handle)
        client = pooled_client(httpx.Timeout(5.0), 4)
        answers: list[bytes] = []

        async def ask(n: int) -> None:
            response = await client.post(f"http://127.0.0.1:{port}/x", content=b"%d" % n)
            answers.append(response.content)

        async with anyio.create_task_group() as requests:
            for n in range(40):
                requests.start_soon(ask, n)
        await client.aclose()
        tg.cancel_scope.cancel()
    assert sorted(answers) == sorted(b"%d" % n for n in range(40))
    assert server.most_in_flight <= 4
    assert server.connections <= 4  # kept alive and reused, never more than the pool


async def test_a_failed_request_gives_its_slot_back() -> None:
    transport = ConnectionPerSlot(1)
    async with httpx.AsyncClient(transport=transport, timeout=httpx.Timeout(1.0)) as client:
        for _ in range(3):  # nothing listens there: each fails, none waits for a slot
            with pytest.raises(httpx.ConnectError):
                await client.get("http://127.0.0.1:9/")


def test_a_pool_needs_a_slot() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        ConnectionPerSlot(0)


@pytest.mark.parametrize(
    ("name", "env"),
    [
        ("webhook", {"N8N_WEBHOOK_BASE": "http://127.0.0.1:9/webhook"}),
        ("openai", {"OPENAI_API_KEY": "sk-test"}),
    ],
)
async def test_a_classifier_built_for_a_run_keeps_one_connection_per_worker(
    name: str, env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """``superbrain batch --concurrency N`` and the nightly job size the pool to N:
    fewer connections would make workers wait, more would sit idle."""
    from superbrain_core.analyzer.classify.factory import make_classifier

    for key, value in env.items():
        monkeypatch.setenv(key, value)
    for connections in (3, 40):
        classifier = make_classifier(name, connections=connections)
        try:
            transport = classifier._client._transport  # type: ignore[attr-defined]
            assert isinstance(transport, ConnectionPerSlot)
            assert len(transport._slots) == connections
        finally:
            await classifier.aclose()
