"""A kgft LLM backend as a LangChain chat model, so LangChain chains run on the models kgft prices."""

from __future__ import annotations

from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.messages.ai import UsageMetadata
from langchain_core.outputs import ChatGeneration, ChatResult
from pydantic import ConfigDict, Field

from kgft.backends import ChatMessage, LLMBackend

# LangChain's message types → the chat roles every kgft backend takes.
_ROLES = {"system": "system", "human": "user", "ai": "assistant"}


class KgftChatModel(BaseChatModel):
    """Each call is one `backend.generate`; its token counts land in the reply's `usage_metadata`
    (where LangChain's usage callbacks read them) and its measured time in `response_metadata`."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    backend: LLMBackend
    max_tokens: int = Field(default=256, ge=1)
    temperature: float = 0.0

    @property
    def _llm_type(self) -> str:
        return "kgft"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {"backend": self.backend.spec, "max_tokens": self.max_tokens, "temperature": self.temperature}

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        generation = self.backend.generate(
            [_chat_message(message) for message in messages],
            max_tokens=kwargs.get("max_tokens", self.max_tokens),
            temperature=kwargs.get("temperature", self.temperature),
            stop=stop or (),
        )
        usage = UsageMetadata(
            input_tokens=generation.prompt_tokens,
            output_tokens=generation.completion_tokens,
            total_tokens=generation.prompt_tokens + generation.completion_tokens,
        )
        metadata = {
            "model_name": generation.model,
            "finish_reason": generation.finish_reason,
            "generation_ms": generation.generation_ms,
        }
        message = AIMessage(content=generation.text, usage_metadata=usage, response_metadata=metadata)
        return ChatResult(
            generations=[ChatGeneration(message=message)], llm_output={"model_name": generation.model}
        )


def _chat_message(message: BaseMessage) -> ChatMessage:
    if message.type not in _ROLES:
        raise ValueError(f"kgft backends take system, user and assistant turns, not {message.type!r}")
    return ChatMessage(_ROLES[message.type], message.text)
