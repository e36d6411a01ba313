"""Build a deliberately broken INT8 model: quantized from unstandardized inputs.

    python -m tests.tf_broken_model OUT   (writes OUT.tflite, OUT.json, OUT.npz)

The float model standardizes inside its graph, so it is a good float model;
but its int8 input tensor then has to cover raw features of very different
ranges (pressure tendency, humidity, a sine) with one scale. The parity gate
must reject it. Runs with TensorFlow, in a process of its own.
"""

import json
import sys

import numpy as np

from model_tools import convert, paths, pipeline, train
from weatherapp.forecast.card import file_sha256


def main(out: str) -> None:
    data = pipeline.load_samples(paths.DATASET, pipeline.DEFAULT_LONGITUDE)
    train_part, test = data.part("train"), data.part("test")
    norm = train.normalization(train_part)
    keras = train._keras(1)
    inputs = keras.Input((train_part.x.shape[1],))
    hidden = keras.layers.Normalization(
        mean=norm["mean"], variance=np.square(norm["std"])
    )(inputs)
    hidden = keras.layers.Dense(32, activation="relu")(hidden)
    model = keras.Model(inputs, keras.layers.Dense(1, activation="sigmoid")(hidden))
    model.compile(optimizer="adam", loss="binary_crossentropy")
    model.fit(train_part.x, train_part.y.astype("float32"), epochs=30, verbose=0)
    with open(f"{out}.tflite", "wb") as f:
        f.write(convert.to_int8(model, train_part.x, 1))
    p_float = train.predict_float(model, test.x)
    np.savez(f"{out}.npz", x=test.x, y=test.y, p_float=p_float)
    card = json.loads(paths.INT8_MODEL.with_suffix(".json").read_text())
    card["model_sha256"] = file_sha256(f"{out}.tflite")
    n = len(card["features"])
    card["normalization"] = {"mean": [0.0] * n, "std": [1.0] * n}
    with open(f"{out}.json", "w") as f:
        json.dump(card, f)


if __name__ == "__main__":
    main(sys.argv[1])
