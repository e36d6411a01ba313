"""Train the float Keras model (TensorFlow is imported here, never in weatherapp)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from weatherapp.forecast import features

SEED = 20261128  # the committed model's; --seed changes it
SEEDS = (SEED, SEED + 1, SEED + 2)  # the cross-validation's seed spread
EPOCHS = 8
BATCH = 1024
LEARNING_RATE = 2e-3
HIDDEN = (32, 16)
DROPOUT = 0.1


def _keras(seed: int):
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()
    tf.config.threading.set_inter_op_parallelism_threads(1)
    tf.config.threading.set_intra_op_parallelism_threads(1)
    return keras


def build_model(keras, n_features: int, horizons: int = len(features.HORIZONS)):
    """A small MLP with one output per horizon, monotone by construction.

    The last hidden layer gives a base logit (the 1-hour horizon) and
    ``horizons - 1`` non-negative increments (ReLU); a fixed, non-trainable
    upper-triangular matrix of ones sums them, so logit(k) = base + the first
    k - 1 increments never decreases with k, and neither does its sigmoid.
    Every step is monotone in INT8 too: the ones quantize exactly (each column
    has the same per-channel scale), ReLU outputs stay at or above their zero
    point, rounding is monotone and the int8 logistic is a monotone table.
    """
    inputs = keras.Input((n_features,), name="features")
    hidden = keras.layers.Dense(HIDDEN[0], activation="relu")(inputs)
    hidden = keras.layers.Dropout(DROPOUT)(hidden)
    hidden = keras.layers.Dense(HIDDEN[1], activation="relu")(hidden)
    base = keras.layers.Dense(1, name="base_logit")(hidden)
    steps = keras.layers.Dense(horizons - 1, activation="relu", name="increments")(
        hidden
    )
    terms = keras.layers.Concatenate(name="terms")([base, steps])
    cumulative = keras.layers.Dense(
        horizons,
        use_bias=False,
        trainable=False,
        kernel_initializer=keras.initializers.Constant(
            np.triu(np.ones((horizons, horizons), np.float32))
        ),
        name="cumulative_logits",
    )(terms)
    outputs = keras.layers.Activation("sigmoid", name="probabilities")(cumulative)
    return keras.Model(inputs, outputs)


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
    """Fit the model on raw features and (n, len(HORIZONS)) labels for a fixed
    EPOCHS: no early stopping, so no held-out data is needed to decide when
    to stop and the folds' test windows stay untouched."""
    keras = _keras(seed)
    norm = normalization(x)
    x_std = features.standardize(x, norm["mean"], norm["std"])
    model = build_model(keras, x_std.shape[1], labels.shape[1])
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=LEARNING_RATE),
        loss="binary_crossentropy",
    )
    model.fit(
        x_std,
        labels.astype(np.float32),
        epochs=EPOCHS,
        batch_size=BATCH,
        shuffle=True,
        verbose=0,
        callbacks=[_ProgressBar(keras, EPOCHS, desc)] if progress else [],
    )
    return model, norm


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


def _ProgressBar(keras, epochs: int, desc: str = "train"):
    from tqdm import tqdm

    class ProgressBar(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.bar = tqdm(total=epochs, desc=desc, unit="epoch", leave=False)

        def on_epoch_end(self, epoch, logs=None):
            self.bar.set_postfix(loss=f"{logs.get('loss', 0):.4f}")
            self.bar.update(1)

        def on_train_end(self, logs=None):
            self.bar.close()

    return ProgressBar()


def predict_float(model, x_std: np.ndarray) -> np.ndarray:
    """Float probabilities by a direct call (deterministic, no batching noise)."""
    p = np.asarray(model(x_std, training=False)).astype(np.float64)
    return p.reshape(len(x_std), -1)
