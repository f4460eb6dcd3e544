"""Generate completions for one prompt from the command line.

    python -m spft_jax.generate --model=smollm2-135m-instruct --prompt="List all singers." \\
        [--max-new-tokens 128] [--temperature 0] [--top-p 1] [--top-k 0] [--n 1] [--seed 0] \\
        [--stop STR ...] [--chat/--no-chat] [--system TEXT]

--model is a Hugging Face checkpoint directory, a .gguf file or the packaged preset
`smollm2-135m-instruct`. With a chat template (instruct models) the prompt is sent as a user
message by default; --no-chat feeds it verbatim. Prints each completion; bad input exits with
status 2 and a one-line message.
"""

from __future__ import annotations

import argparse
import logging
import sys

from spft_jax.cli import run_command
from spft_jax.errors import ConfigError


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m spft_jax.generate",
                                     description="Sample completions of a prompt from a model.")
    parser.add_argument("--model", required=True,
                        help="Hugging Face directory, .gguf file, or 'smollm2-135m-instruct'")
    parser.add_argument("--prompt", required=True, help="the prompt text")
    parser.add_argument("--max-new-tokens", type=int, default=128)
    parser.add_argument("--temperature", type=float, default=0.0, help="0 for greedy decoding")
    parser.add_argument("--top-p", type=float, default=1.0)
    parser.add_argument("--top-k", type=int, default=0, help="0: no top-k limit")
    parser.add_argument("--n", type=int, default=1, help="completions to sample")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--stop", action="append", default=[], help="stop string (repeatable)")
    parser.add_argument("--chat", action=argparse.BooleanOptionalAction, default=None,
                        help="wrap the prompt in the chat template "
                             "(default: when the model has one)")
    parser.add_argument("--system", default=None, help="system message (chat mode only)")
    parser.add_argument("--dtype", default="float32", choices=("float32", "bfloat16"))
    return parser.parse_args(argv)


def build_prompt(tokenizer, prompt: str, chat: bool | None, system: str | None) -> list[int]:
    """The prompt's token ids, through the chat template unless chat is False."""
    has_template = bool(getattr(tokenizer.hf, "chat_template", None))
    if chat is None:
        chat = has_template
    if not chat:
        if system is not None:
            raise ConfigError("--system needs chat mode (drop --no-chat)")
        return tokenizer.encode(prompt)
    if not has_template:
        raise ConfigError("--chat: the model's tokenizer has no chat template (use --no-chat)")
    messages = ([{"role": "system", "content": system}] if system is not None else [])
    messages.append({"role": "user", "content": prompt})
    return tokenizer.encode(tokenizer.apply_chat_template(messages, add_generation_prompt=True))


def run(args: argparse.Namespace) -> None:
    # Imported here so that argument errors do not pay for importing JAX.
    from spft_jax.models.loading import load_model
    from spft_jax.sampling import Sampler, SamplingParams

    params = SamplingParams(max_new_tokens=args.max_new_tokens, temperature=args.temperature,
                            top_p=args.top_p, top_k=args.top_k or None, n=args.n, seed=args.seed,
                            stop=tuple(args.stop))
    model, _, tokenizer = load_model(args.model, dtype=args.dtype)
    prompt_ids = build_prompt(tokenizer, args.prompt, args.chat, args.system)
    completions = Sampler(model, tokenizer).generate([prompt_ids], params)[0]
    for completion in completions:
        if len(completions) > 1:
            print(f"--- sample {completion.sample_index} ({completion.finish_reason}, "
                  f"{len(completion.token_ids)} tokens)")
        print(completion.text)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    return run_command(lambda: run(args), logging.WARNING)


if __name__ == "__main__":
    sys.exit(main())
