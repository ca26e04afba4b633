"""Stand-ins for outside services that speak their real wire protocols (no mocks of insvie code)."""

from fakes.openai_server import FakeOpenAIServer, FakeReply, RecordedRequest, sequence

__all__ = ["FakeOpenAIServer", "FakeReply", "RecordedRequest", "sequence"]
