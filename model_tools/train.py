"""Train the float Keras model (TensorFlow is imported here, never in weatherapp)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from weatherapp.forecast import features

SEED = 20261128  # the committed model's; --seed changes it
SEEDS = (SEED, SEED + 1, SEED + 2)  # the cross-validation's seed spread
EPOCHS = 12
BATCH = 1024
LEARNING_RATE = 3e-3  # cosine-decayed over the EPOCHS to LEARNING_RATE * FINAL_LR
FINAL_LR = 0.05
HIDDEN = (128, 64)
DROPOUT = 0.3
# Members trained apart (seeds seed + MEMBER_SEED_STEP * i) and folded into one
# network whose logits are their mean (build_model, fold).
MEMBERS = 2
MEMBER_SEED_STEP = 1000


def _keras(seed: int):
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()
    tf.config.threading.set_inter_op_parallelism_threads(1)
    tf.config.threading.set_intra_op_parallelism_threads(1)
    return keras


def build_model(
    keras: Any,
    n_features: int,
    horizons: int = len(features.HORIZONS),
    members: int = 1,
) -> Any:
    """An MLP with one output per horizon, monotone by construction; with
    ``members`` > 1, that many such MLPs side by side, their logits averaged.

    Each member's last hidden layer gives a base logit (the 1-hour horizon)
    and ``horizons - 1`` non-negative increments (ReLU); a fixed,
    non-trainable matrix sums them, so logit(k) = the members' mean of base +
    the first k - 1 increments, which never decreases with k, and neither
    does its sigmoid. The matrix is the upper-triangular matrix of ones divided by
    ``members``, stacked once per member. Every step is monotone in INT8 too:
    the matrix quantizes exactly (each column's non-zero entries are equal,
    so each is the per-channel maximum), ReLU outputs stay at or above their
    zero point, rounding is monotone and the int8 logistic is a monotone
    table.
    """
    inputs = keras.Input((n_features,), name="features")
    terms = []
    for m in range(members):
        hidden = inputs
        for depth, width in enumerate(HIDDEN):
            hidden = keras.layers.Dense(
                width, activation="relu", name=f"m{m}_dense{depth}"
            )(hidden)
            if depth == 0:
                hidden = keras.layers.Dropout(DROPOUT, name=f"m{m}_dropout")(hidden)
        terms.append(keras.layers.Dense(1, name=f"m{m}_base_logit")(hidden))
        terms.append(
            keras.layers.Dense(
                horizons - 1, activation="relu", name=f"m{m}_increments"
            )(hidden)
        )
    stacked = keras.layers.Concatenate(name="terms")(terms)
    triangle = np.triu(np.ones((horizons, horizons), np.float32)) / members
    cumulative = keras.layers.Dense(
        horizons,
        use_bias=False,
        trainable=False,
        kernel_initializer=keras.initializers.Constant(np.tile(triangle, (members, 1))),
        name="cumulative_logits",
    )(stacked)
    outputs = keras.layers.Activation("sigmoid", name="probabilities")(cumulative)
    return keras.Model(inputs, outputs)


def fold(keras: Any, trained: list[Any], n_features: int, horizons: int) -> Any:
    """One network from separately trained one-member models (build_model):
    each member's weights copied into its branch; its output is the mean of
    their logits."""
    model = build_model(keras, n_features, horizons, members=len(trained))
    for m, member in enumerate(trained):
        for layer in member.layers:
            if layer.name.startswith("m0_") and layer.weights:
                target = model.get_layer(f"m{m}_" + layer.name[len("m0_") :])
                target.set_weights(layer.get_weights())
    return model


def normalization(x: np.ndarray) -> dict[str, list[float]]:
    """Mean and standard deviation of raw training features (the card's)."""
    x = np.asarray(getattr(x, "x", x), np.float64)
    mean = x.mean(axis=0)
    std = x.std(axis=0)
    # A constant feature would divide by zero; leave it unscaled.
    std = np.where(std < 1e-6, 1.0, std)
    return {"mean": mean.astype(float).tolist(), "std": std.astype(float).tolist()}


def fit(
    x: np.ndarray,
    labels: np.ndarray,
    seed: int = SEED,
    progress: bool = False,
    desc: str = "train",
) -> tuple[Any, dict[str, list[float]]]:
    """Fit MEMBERS models on raw features and (n, len(HORIZONS)) labels, each
    for a fixed EPOCHS with a cosine-decayed learning rate, and fold them into
    one network. No early stopping, so no held-out data is needed to decide
    when to stop and the folds' test windows stay untouched (EPOCHS and the
    rest were chosen on 2017-2018 only: docs/MODEL.md)."""
    keras = _keras(seed)
    norm = normalization(x)
    x_std = features.standardize(x, norm["mean"], norm["std"])
    horizons = labels.shape[1]
    steps = EPOCHS * int(np.ceil(len(x_std) / BATCH))
    trained = []
    for m in range(MEMBERS):
        keras.utils.set_random_seed(seed + MEMBER_SEED_STEP * m)
        model = build_model(keras, x_std.shape[1], horizons)
        schedule = keras.optimizers.schedules.CosineDecay(
            LEARNING_RATE, steps, alpha=FINAL_LR
        )
        model.compile(
            optimizer=keras.optimizers.Adam(learning_rate=schedule),
            loss="binary_crossentropy",
        )
        label = f"{desc} {m + 1}/{MEMBERS}" if MEMBERS > 1 else desc
        model.fit(
            x_std,
            labels.astype(np.float32),
            epochs=EPOCHS,
            batch_size=BATCH,
            shuffle=True,
            verbose=0,
            callbacks=[_ProgressBar(keras, EPOCHS, label)] if progress else [],
        )
        trained.append(model)
    if MEMBERS == 1:
        return trained[0], norm
    return fold(keras, trained, x_std.shape[1], horizons), norm


def train(
    x: np.ndarray,
    labels: np.ndarray,
    out: Path,
    seed: int = SEED,
    progress: bool = True,
) -> tuple[Any, dict[str, list[float]]]:
    """fit() on every training window, then save the float model to ``out``."""
    model, norm = fit(x, labels, seed, progress)
    out.parent.mkdir(parents=True, exist_ok=True)
    model.save(out)
    return model, norm


def _ProgressBar(keras: Any, epochs: int, desc: str = "train") -> Any:
    from tqdm import tqdm

    class ProgressBar(keras.callbacks.Callback):
        def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
            self.bar = tqdm(total=epochs, desc=desc, unit="epoch", leave=False)

        def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
            assert logs is not None  # Keras passes the epoch's logs
            self.bar.set_postfix(loss=f"{logs.get('loss', 0):.4f}")
            self.bar.update(1)

        def on_train_end(self, logs: dict[str, Any] | None = None) -> None:
            self.bar.close()

    return ProgressBar()


def predict_float(model: Any, x_std: np.ndarray) -> np.ndarray:
    """Float probabilities by a direct call (deterministic, no batching noise)."""
    p = np.asarray(model(x_std, training=False)).astype(np.float64)
    return p.reshape(len(x_std), -1)
