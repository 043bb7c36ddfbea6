"""Checkpoints: trainable weights, optimizer and RNG state in safetensors, written atomically.

A checkpoint is a folder ``step-NNNNNN`` under the run's ``checkpoints/``:

- ``model.safetensors``: the parameters that train (all of them, or the LoRA
  adapter's), by name;
- ``optimizer.safetensors``: every tensor of the optimizer's state, as
  ``state.<param index>.<key>``; the param groups (learning rate, betas, ...) and the
  rest of the trainer's state (step, Python RNG) in its JSON metadata;
- ``rng.safetensors``: the torch CPU (and CUDA) generator states, so sampling after a
  resume draws what the uninterrupted run would have drawn;
- ``pending.safetensors`` (a loop that samples one step ahead): the next step's
  rollouts, already drawn by the policy before this step's update.

It is written into a hidden temporary folder and renamed into place (``os.replace``),
then ``latest`` is rewritten the same way. A crash at any point leaves either the old
checkpoint or the new one, both complete; leftover temporary folders are ignored and
swept on the next save. :func:`load_latest` trusts ``latest`` and falls back to the
highest complete ``step-*`` folder.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, safe_open, save_file

MODEL, OPTIMIZER, RNG, PENDING, LATEST = ("model.safetensors", "optimizer.safetensors",
                                          "rng.safetensors", "pending.safetensors", "latest")


@dataclass(frozen=True)
class Checkpoint:
    path: Path
    step: int
    state: dict[str, Any]
    #: Rollouts made before the save for the next step (a loop that samples ahead).
    pending: tuple[dict[str, torch.Tensor], dict[str, Any]] | None = None


def trainable(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """The parameters that train, by name (tied parameters once)."""
    return {n: p for n, p in model.named_parameters() if p.requires_grad}


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def save(directory: Path, step: int, model: torch.nn.Module, optimizer: torch.optim.Optimizer,
         state: dict[str, Any] | None = None,
         pending: tuple[dict[str, torch.Tensor], dict[str, Any]] | None = None) -> Path:
    """Write checkpoint ``step`` under ``directory`` atomically; returns its folder."""
    directory.mkdir(parents=True, exist_ok=True)
    for stale in directory.glob(".step-*"):
        shutil.rmtree(stale, ignore_errors=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".step-{step:06d}-", dir=directory))
    weights = {n: p.detach().cpu().contiguous() for n, p in trainable(model).items()}
    save_file(weights, str(tmp / MODEL))
    opt = optimizer.state_dict()
    tensors: dict[str, torch.Tensor] = {}
    scalars: dict[str, dict[str, Any]] = {}
    for index, entry in opt["state"].items():
        for key, value in entry.items():
            if isinstance(value, torch.Tensor):
                tensors[f"state.{index}.{key}"] = value.detach().cpu().contiguous()
            else:
                scalars.setdefault(str(index), {})[key] = value
    trainer_state = {"step": step, **(state or {}),
                     "python_rng": _jsonable(random.getstate())}
    save_file(tensors, str(tmp / OPTIMIZER), metadata={
        "param_groups": json.dumps(opt["param_groups"]), "scalars": json.dumps(scalars),
        "trainer": json.dumps(trainer_state, sort_keys=True)})
    rng = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        for i, s in enumerate(torch.cuda.get_rng_state_all()):
            rng[f"cuda.{i}"] = s
    save_file(rng, str(tmp / RNG))
    names = [MODEL, OPTIMIZER, RNG]
    if pending is not None:
        tensors_p, meta_p = pending
        save_file({k: v.contiguous() for k, v in tensors_p.items()}, str(tmp / PENDING),
                  metadata={"meta": json.dumps(meta_p, sort_keys=True)})
        names.append(PENDING)
    for name in names:
        _fsync(tmp / name)
    final = directory / f"step-{step:06d}"
    if final.exists():
        shutil.rmtree(final)
    os.replace(tmp, final)
    pointer = directory / f".latest-{os.getpid()}"
    pointer.write_text(final.name + "\n", encoding="utf-8")
    _fsync(pointer)
    os.replace(pointer, directory / LATEST)
    return final


def _jsonable(value: Any) -> Any:
    if isinstance(value, tuple):
        return [_jsonable(v) for v in value]
    return value


def _tuple(value: Any) -> Any:
    if isinstance(value, list):
        return tuple(_tuple(v) for v in value)
    return value


def _complete(folder: Path) -> bool:
    return all((folder / name).is_file() for name in (MODEL, OPTIMIZER, RNG))


def latest(directory: Path) -> Path | None:
    """The newest complete checkpoint folder under ``directory``, or None."""
    pointer = directory / LATEST
    try:
        named = directory / pointer.read_text(encoding="utf-8").strip()
        if named.name.startswith("step-") and _complete(named):
            return named
    except OSError:
        pass
    folders = sorted(p for p in directory.glob("step-*") if _complete(p))
    return folders[-1] if folders else None


def load(folder: Path, model: torch.nn.Module,
         optimizer: torch.optim.Optimizer | None = None, *,
         restore_rng: bool = True) -> Checkpoint:
    """Restore weights (and optimizer, RNG) from ``folder``; returns its trainer state."""
    weights = load_file(str(folder / MODEL))
    params = trainable(model)
    missing = sorted(set(params) - set(weights))
    if missing:
        raise ValueError(f"{folder}: checkpoint lacks {len(missing)} trainable tensors "
                         f"(first: {missing[0]}); was it saved from another model or LoRA "
                         "setting?")
    with torch.no_grad():
        for name, param in params.items():
            param.copy_(weights[name].to(param.device, param.dtype))
    with safe_open(str(folder / OPTIMIZER), "pt") as f:
        meta = f.metadata()
        tensors = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118 (not a dict)
    trainer = json.loads(meta["trainer"])
    if optimizer is not None:
        state: dict[int, dict[str, Any]] = {}
        for key, value in tensors.items():
            _, index, name = key.split(".", 2)
            state.setdefault(int(index), {})[name] = value
        for index, extra in json.loads(meta["scalars"]).items():
            state.setdefault(int(index), {}).update(extra)
        optimizer.load_state_dict({"state": state,
                                   "param_groups": json.loads(meta["param_groups"])})
    if restore_rng:
        rng = load_file(str(folder / RNG))
        torch.set_rng_state(rng["torch"])
        cuda = [rng[k] for k in sorted(k for k in rng if k.startswith("cuda."))]
        if cuda and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(cuda)
        random.setstate(_tuple(trainer.pop("python_rng")))
    pending = None
    if (folder / PENDING).is_file():
        with safe_open(str(folder / PENDING), "pt") as f:
            pending = ({k: f.get_tensor(k) for k in f.keys()},  # noqa: SIM118
                       json.loads(f.metadata()["meta"]))
    return Checkpoint(folder, int(trainer["step"]), trainer, pending)


__all__ = ["Checkpoint", "latest", "load", "save", "trainable"]
