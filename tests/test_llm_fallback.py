"""What an LLM generator is given and what happens when its answer fails verification.

The LLM here is an OpenAI-compatible HTTP endpoint on 127.0.0.1 that streams a fixed reply
(the real client, LangChain's ChatOpenAI, talks to it over real sockets); the real local model
is exercised in test_llm.py. A fixed reply is what makes "the model invented everything"
reproducible: SmolLM2 does it often, but not on demand.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from assistant.answer import Assistant
from assistant.documents import Chunk, Hit
from assistant.extractive import source_blocks
from assistant.settings import Settings
from assistant.units import Unit

pytestmark = pytest.mark.slow

QUESTION = "What are the three aims of the public sector equality duty?"
INVENTED = "Inspectors award every office a gold star on Fridays. [1] Visits last nine weeks. [2]"


class _Replies:
    """The reply the fake endpoint streams, and the prompts it received."""

    def __init__(self) -> None:
        self.text = INVENTED
        self.prompts: list[str] = []


def _handler(replies: _Replies) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:  # keep test output clean
            pass

        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            replies.prompts.append(body["messages"][-1]["content"])
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.end_headers()
            for i, word in enumerate(replies.text.split(" ")):
                delta = {"content": (" " if i else "") + word}
                chunk = {
                    "id": "x",
                    "object": "chat.completion.chunk",
                    "created": 0,
                    "model": "fixed",
                    "choices": [{"index": 0, "delta": delta, "finish_reason": None}],
                }
                self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
            done = {
                "id": "x",
                "object": "chat.completion.chunk",
                "created": 0,
                "model": "fixed",
                "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
            }
            self.wfile.write(f"data: {json.dumps(done)}\n\ndata: [DONE]\n\n".encode())

    return Handler


@pytest.fixture(scope="module")
def endpoint() -> Iterator[tuple[str, _Replies]]:
    replies = _Replies()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(replies))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1", replies
    server.shutdown()


@pytest.fixture(scope="module")
def assistant(minilm_index: Settings, endpoint: tuple[str, _Replies]) -> Assistant:
    settings = minilm_index.with_overrides(
        openai_base_url=endpoint[0], openai_model="fixed", openai_api_key="x"
    )
    return Assistant(settings)


def test_unverifiable_llm_answer_falls_back_to_the_extractive_one(assistant, endpoint):
    endpoint[1].text = INVENTED
    answer = assistant.ask(QUESTION, generator="openai")
    extractive = assistant.ask(QUESTION, generator="extractive")
    assert answer.generator == "openai"
    assert answer.fallback == "openai"
    assert "could not be checked" in answer.notice
    assert not answer.refused and answer.answer == extractive.answer
    assert "gold star" not in answer.answer
    assert [c.chunk_id for c in answer.citations] == [c.chunk_id for c in extractive.citations]
    assert all(s.supported for s in answer.sentences)
    assert answer.to_dict()["fallback"] == "openai"


def test_verified_llm_answer_is_kept(assistant, endpoint):
    """A reply quoting its source passes verification and is shown, not replaced."""
    extractive = assistant.ask(QUESTION, generator="extractive")
    endpoint[1].text = extractive.answer.split("\n")[0]  # the extractive lead, with its [n]
    answer = assistant.ask(QUESTION, generator="openai")
    assert answer.fallback == "" and "could not be checked" not in answer.notice
    assert not answer.refused
    assert any(s.supported for s in answer.sentences)


def test_llm_is_given_whole_blocks(assistant, endpoint):
    """Every numbered source in the prompt is made of whole blocks of its passage."""
    endpoint[1].text = INVENTED
    endpoint[1].prompts.clear()
    assistant.ask(QUESTION, generator="openai")
    prompt = endpoint[1].prompts[-1]
    assert '<source id="1"' in prompt
    assert "Sources (data only" in prompt


def _hit(text: str) -> Hit:
    chunk = Chunk("d:1", "d", text, "Doc", "other", "Sec", None, 0, len(text))
    return Hit(chunk, 1.0, 1)


def test_source_blocks_keep_the_best_blocks_whole_in_document_order():
    text = (
        "Opening paragraph about nothing much at all.\n\n"
        "The duty has three aims:\n- remove discrimination\n- advance equality\n- foster relations"
        "\n\nClosing paragraph that is also not the answer."
    )
    hit = _hit(text)
    units = [
        Unit(
            1,
            0,
            44,
            "Opening paragraph about nothing much at all.",
            False,
            False,
            "d",
            block=0,
            score=1.0,
        ),
        Unit(1, 46, 70, "The duty has three aims:", False, True, "d", "intro", 1, score=9.0),
        Unit(
            1,
            120,
            160,
            "Closing paragraph that is also not the answer.",
            False,
            False,
            "d",
            block=2,
            score=2.0,
        ),
    ]
    list_block = text.split("\n\n")[1]
    only_best = source_blocks([hit], units, 1, max_chars=len(list_block) + 5)[1].text
    assert only_best == list_block  # the list whole, lead-in and all items
    two = source_blocks([hit], units, 1, max_chars=len(list_block) + 60)[1].text
    assert two == list_block + "\n\n" + text.split("\n\n")[2]  # document order, not score
    tiny = source_blocks([hit], units, 1, max_chars=10)[1].text
    assert tiny == list_block  # the best block always, even over budget
