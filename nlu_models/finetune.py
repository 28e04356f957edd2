"""Fine-tuning the packaged MiniLM (a 6-layer BertModel) as an intent classifier, on CPU.

Deterministic for a given seed and thread count; early stopping on a stratified validation split;
bf16 autocast where the CPU has native bf16 (about twice as fast, weights stay fp32).
"""
from __future__ import annotations

import logging
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Sequence

import numpy as np

from text_tools.encoder import model_path, offline

if TYPE_CHECKING:
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FineTuneSettings:
    max_epochs: int = 6  # the linear schedule decays over these; 10 before augmentation (issue #14)
    patience: int = 2  # epochs without a better validation loss before stopping
    batch_size: int = 32
    learning_rate: float = 1e-4  # encoder
    head_learning_rate: float = 3e-3  # the new classifier head starts from random weights
    weight_decay: float = 0.01
    warmup_ratio: float = 0.06
    max_length: int = 64
    validation_share: float = 0.15
    seed: int = 13
    bf16: bool = True
    gibberish_examples: int = 150  # synthetic noise taught as nlu_fallback (see nlu_models.gibberish)
    # Each epoch also trains on fresh variants (typos, greetings glued on, catalog terms swapped in:
    # nlu_models.augment) of this share of the training examples; 0 turns augmentation off.
    augment_share: float = 0.5
    augment_seed: int = 29
    # The fallback threshold is capped so that the model alone refuses at most this share of the
    # validation messages (as written and augmented) it classifies correctly; 0 turns the cap off.
    max_refused_share: float = 0.03

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class FineTuned:
    model: "PreTrainedModel"
    tokenizer: "PreTrainedTokenizerBase"
    labels: list[str]
    val_logits: np.ndarray
    val_labels: np.ndarray
    history: list[dict[str, float]] = field(default_factory=list)
    train_seconds: float = 0.0


def base_checkpoint() -> Path:
    return model_path()


def use_bf16(settings: FineTuneSettings) -> bool:
    import torch

    return settings.bf16 and bool(getattr(torch.cpu, "_is_avx512_bf16_supported", lambda: False)())


def stratified_split(labels: Sequence[str], share: float, seed: int) -> tuple[list[int], list[int]]:
    """Indices for train and validation, at least one validation example per label with 2+ examples."""
    rng = np.random.default_rng(seed)
    by_label: dict[str, list[int]] = {}
    for i, label in enumerate(labels):
        by_label.setdefault(label, []).append(i)
    train, val = [], []
    for label in sorted(by_label):
        idx = rng.permutation(by_label[label]).tolist()
        n_val = max(1, round(len(idx) * share)) if len(idx) > 1 else 0
        val += idx[:n_val]
        train += idx[n_val:]
    return sorted(train), sorted(val)


def _batches(n: int, size: int, rng: np.random.Generator | None) -> list[np.ndarray]:
    order = rng.permutation(n) if rng is not None else np.arange(n)
    return [order[i:i + size] for i in range(0, n, size)]


def predict_logits(
    model: "PreTrainedModel", tokenizer: "PreTrainedTokenizerBase", texts: Sequence[str],
    max_length: int, batch_size: int = 64,
) -> np.ndarray:
    import torch

    model.eval()
    out = []
    with torch.inference_mode():
        for batch in _batches(len(texts), batch_size, None):
            enc = tokenizer([texts[i] for i in batch], padding=True, truncation=True,
                            max_length=max_length, return_tensors="pt")
            out.append(model(**enc).logits.float().numpy())
    n_labels = model.config.num_labels
    return np.concatenate(out) if out else np.zeros((0, n_labels), dtype=np.float32)


def fine_tune(
    texts: Sequence[str],
    labels: Sequence[str],
    settings: FineTuneSettings,
    validation: tuple[Sequence[str], Sequence[str]] | None = None,
    progress: bool = True,
    extra: Callable[[int], tuple[Sequence[str], Sequence[str]]] | None = None,
) -> FineTuned:
    """Train on ``texts``; validate on ``validation`` or on a stratified share of the input.

    ``extra(epoch)``, when given, returns more (texts, labels) to train on in that epoch only (fresh
    augmented variants each epoch); it should return the same number of examples every time.
    """
    offline()
    import torch
    from tqdm.auto import tqdm
    from transformers import AutoModelForSequenceClassification, AutoTokenizer, get_linear_schedule_with_warmup
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()  # the "classifier head newly initialised" report is expected
    hf_logging.disable_progress_bar()
    started = time.perf_counter()
    torch.manual_seed(settings.seed)
    rng = np.random.default_rng(settings.seed)

    if validation is None:
        train_idx, val_idx = stratified_split(labels, settings.validation_share, settings.seed)
        train_texts, train_labels = [texts[i] for i in train_idx], [labels[i] for i in train_idx]
        val_texts, val_labels = [texts[i] for i in val_idx], [labels[i] for i in val_idx]
    else:
        train_texts, train_labels = list(texts), list(labels)
        val_texts, val_labels = list(validation[0]), list(validation[1])

    label_list = sorted(set(labels))
    label_id = {label: i for i, label in enumerate(label_list)}
    y_train = torch.tensor([label_id[label] for label in train_labels])
    y_val = np.array([label_id[label] for label in val_labels])

    path = base_checkpoint()
    tokenizer = AutoTokenizer.from_pretrained(path)
    model = AutoModelForSequenceClassification.from_pretrained(
        path, num_labels=len(label_list),
        id2label=dict(enumerate(label_list)), label2id=label_id,
    )
    encoded = tokenizer(list(train_texts), truncation=True, max_length=settings.max_length)

    def epoch_data(epoch: int) -> tuple[list[list[int]], list[list[int]], "torch.Tensor"]:
        ids, mask, y = list(encoded["input_ids"]), list(encoded["attention_mask"]), y_train
        if extra is not None:
            more_texts, more_labels = extra(epoch)
            if len(more_texts):
                more = tokenizer(list(more_texts), truncation=True, max_length=settings.max_length)
                ids += more["input_ids"]
                mask += more["attention_mask"]
                y = torch.cat([y, torch.tensor([label_id[label] for label in more_labels])])
        return ids, mask, y

    first_epoch = epoch_data(1)
    steps_per_epoch = math.ceil(len(first_epoch[0]) / settings.batch_size)
    no_decay = ("bias", "LayerNorm.weight")
    groups = []
    for is_head in (False, True):
        lr = settings.head_learning_rate if is_head else settings.learning_rate
        params = [(n, p) for n, p in model.named_parameters() if n.startswith("classifier") == is_head]
        groups += [
            {"params": [p for n, p in params if not n.endswith(no_decay)], "lr": lr,
             "weight_decay": settings.weight_decay},
            {"params": [p for n, p in params if n.endswith(no_decay)], "lr": lr, "weight_decay": 0.0},
        ]
    optimizer = torch.optim.AdamW(groups)
    total = steps_per_epoch * settings.max_epochs
    scheduler = get_linear_schedule_with_warmup(optimizer, int(total * settings.warmup_ratio), total)
    bf16 = use_bf16(settings)

    best_loss, best_state, stale, history = math.inf, None, 0, []
    best_val_logits = np.zeros((len(val_texts), len(label_list)), dtype=np.float32)
    bar = tqdm(total=total, desc="fine-tuning", unit="step", disable=not progress, leave=False)
    for epoch in range(1, settings.max_epochs + 1):
        model.train()
        epoch_loss = 0.0
        ids, mask, y_epoch = first_epoch if epoch == 1 else epoch_data(epoch)
        for batch in _batches(len(ids), settings.batch_size, rng):
            features = tokenizer.pad(
                {"input_ids": [ids[i] for i in batch], "attention_mask": [mask[i] for i in batch]},
                return_tensors="pt",
            )
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                out = model(**features, labels=y_epoch[batch])
            out.loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad()
            epoch_loss += float(out.loss.detach()) * len(batch)
            bar.update(1)
        logits = predict_logits(model, tokenizer, val_texts, settings.max_length)
        val_loss = float(cross_entropy(logits, y_val)) if len(y_val) else 0.0
        val_acc = float((logits.argmax(1) == y_val).mean()) if len(y_val) else 1.0
        history.append({"epoch": epoch, "train_loss": round(epoch_loss / len(ids), 4),
                        "val_loss": round(val_loss, 4), "val_accuracy": round(val_acc, 4)})
        bar.set_postfix(epoch=epoch, val_acc=f"{val_acc:.3f}")
        log.info("epoch %d: val loss %.4f, val accuracy %.4f", epoch, val_loss, val_acc)
        if val_loss < best_loss - 1e-4:
            best_loss, stale, best_val_logits = val_loss, 0, logits
            best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        else:
            stale += 1
            if stale >= settings.patience:
                log.info("early stop after epoch %d (best val loss %.4f)", epoch, best_loss)
                break
    bar.close()
    if best_state is not None:
        model.load_state_dict(best_state)
    model.eval()
    return FineTuned(model, tokenizer, label_list, best_val_logits, y_val, history,
                     round(time.perf_counter() - started, 2))


def cross_entropy(logits: np.ndarray, targets: np.ndarray) -> float:
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    return float(-log_probs[np.arange(len(targets)), targets].mean())
