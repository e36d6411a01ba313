"""Train the float Keras model (TensorFlow is imported here, never in weatherapp)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from weatherapp.forecast import features

from . import samples as samples_mod

SEED = 20261128  # the committed model's; --seed changes it
EPOCHS = 300
BATCH = 128
PATIENCE = 25


def _keras(seed: int):
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()
    tf.config.threading.set_inter_op_parallelism_threads(1)
    tf.config.threading.set_intra_op_parallelism_threads(1)
    return keras


def build_model(keras, n_features: int):
    """A small MLP. 64-32 with dropout 0.3 had the best validation AUC among
    16, 32-16 (with and without L2 or dropout) and 64-32 (docs/MODEL.md)."""
    return keras.Sequential(
        [
            keras.Input((n_features,), name="features"),
            keras.layers.Dense(64, activation="relu"),
            keras.layers.Dropout(0.3),
            keras.layers.Dense(32, activation="relu"),
            keras.layers.Dropout(0.3),
            keras.layers.Dense(1, activation="sigmoid", name="probability"),
        ]
    )


def normalization(train: samples_mod.Samples) -> dict[str, list[float]]:
    mean = train.x.mean(axis=0)
    std = train.x.std(axis=0)
    # A constant feature would divide by zero; leave it unscaled.
    std = np.where(std < 1e-6, 1.0, std)
    return {"mean": mean.astype(float).tolist(), "std": std.astype(float).tolist()}


def train(
    data: samples_mod.Samples, out: Path, seed: int = SEED, progress: bool = True
) -> tuple[object, dict[str, list[float]]]:
    """Fit on the training blocks, early-stopped on the validation blocks."""
    keras = _keras(seed)
    train_part, val_part = data.part("train"), data.part("validation")
    norm = normalization(train_part)
    x_train = features.standardize(train_part.x, norm["mean"], norm["std"])
    x_val = features.standardize(val_part.x, norm["mean"], norm["std"])
    model = build_model(keras, x_train.shape[1])
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=1e-3),
        loss="binary_crossentropy",
        metrics=[keras.metrics.AUC(name="auc")],
    )
    model.fit(
        x_train,
        train_part.y.astype(np.float32),
        validation_data=(x_val, val_part.y.astype(np.float32)),
        epochs=EPOCHS,
        batch_size=BATCH,
        shuffle=True,
        verbose=0,
        callbacks=[
            keras.callbacks.EarlyStopping(
                monitor="val_loss", patience=PATIENCE, restore_best_weights=True
            ),
            *([_ProgressBar(keras, EPOCHS)] if progress else []),
        ],
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    model.save(out)
    return model, norm


def _ProgressBar(keras, epochs: int):
    from tqdm import tqdm

    class ProgressBar(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.bar = tqdm(total=epochs, desc="train", unit="epoch", leave=False)

        def on_epoch_end(self, epoch, logs=None):
            self.bar.set_postfix(val_loss=f"{logs.get('val_loss', 0):.4f}")
            self.bar.update(1)

        def on_train_end(self, logs=None):
            self.bar.close()

    return ProgressBar()


def predict_float(model, x_std: np.ndarray) -> np.ndarray:
    """Float probabilities by a direct call (deterministic, no batching noise)."""
    return np.asarray(model(x_std, training=False)).reshape(-1).astype(np.float64)
