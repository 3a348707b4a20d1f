"""Build a tiny Keras (3) model package offline, in `keras_hdf5` and/or
`tensorflow_saved_model_bundle` weights.

The network is the same one 3x3 convolution as the torch demo model
(`backoffice.demo.packages`), laid out channels-last: tensors are
`(batch, y, x, channel)`. The description is made with bioimageio.spec's
description classes (`bioimageio.spec.model.v0_5.ModelDescr`) and written with
`save_bioimageio_package`, like the other demo packages.

Needs tensorflow (with keras 3, e.g. `tensorflow-cpu==2.21.*`); it is imported lazily.
"""

from __future__ import annotations

import tempfile
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
from bioimageio.spec.model.v0_5 import (
    KerasHdf5WeightsDescr,
    ModelDescr,
    ModelId,
    TensorflowSavedModelBundleWeightsDescr,
    Version,
    WeightsDescr,
)

from .builder import (
    BIAS,
    KERNEL,
    WRONG_OUTPUT_OFFSET,
    common_fields,
    demo_image,
    io_tensors,
    model_readme,
    save_package,
    write_images,
    write_test_tensors,
)

KerasWeightFormat = Literal["keras_hdf5", "tensorflow_saved_model_bundle"]
KERAS_WEIGHT_FORMATS: tuple[KerasWeightFormat, ...] = ("keras_hdf5", "tensorflow_saved_model_bundle")
"""Weight formats `build_keras_model_package` can write; the first requested is the parent."""


def _tiny_keras_net() -> Any:
    """One 1-channel 3x3 convolution (same padding) with the demo kernel and bias."""
    import keras  # pyright: ignore[reportMissingTypeStubs]

    k: Any = keras
    inputs = k.Input(shape=(None, None, 1), name="input")
    conv = k.layers.Conv2D(1, 3, padding="same", name="conv")
    model = k.Model(inputs, conv(inputs), name="tiny_net")
    kernel = np.array(KERNEL, dtype=np.float32).reshape((3, 3, 1, 1))  # pyright: ignore[reportUnknownMemberType]
    conv.set_weights([kernel, np.asarray([BIAS], dtype=np.float32)])
    return model


def _export_saved_model(model: Any, folder: Path, *, plain: bool) -> None:
    """A TensorFlow SavedModel whose `serve` endpoint returns `{"output": tensor}`
    (or, with `plain`, whatever `model.export()` writes: a bare tensor)."""
    if plain:
        model.export(str(folder), format="tf_saved_model", verbose=False)
        return
    import keras  # pyright: ignore[reportMissingTypeStubs]
    import tensorflow as tf

    k: Any = keras
    tf_any: Any = tf
    archive = k.export.ExportArchive()
    archive.track(model)
    archive.add_endpoint(
        name="serve",
        fn=lambda x: {"output": model(x)},  # pyright: ignore[reportUnknownLambdaType]
        input_signature=[tf_any.TensorSpec(shape=(None, None, None, 1), dtype=tf.float32, name="input")],
    )
    archive.write_out(str(folder), verbose=False)


def _zip_folder(folder: Path, out: Path) -> Path:
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                zf.write(path, path.relative_to(folder).as_posix())
    return out


def build_keras_model_package(
    out: Path,
    *,
    formats: Sequence[str] = KERAS_WEIGHT_FORMATS,
    concept_id: str | None = None,
    version: str = "1.0",
    name: str = "Tiny Keras Demo Model",
    wrong_output: bool = False,
    plain_export: bool = False,
) -> Path:
    """Build a tiny keras model package: one 3x3 convolution, tensors `(batch, y, x, channel)`.

    Args:
        out: path of the zip file to write (parent folders are created).
        formats: any of `KERAS_WEIGHT_FORMATS`; the first in that order is the parent.
        concept_id: if given, the description's `id`.
        version: the description's `version`.
        name: the description's `name`.
        wrong_output: store a test output off by `WRONG_OUTPUT_OFFSET` (the test must fail).
        plain_export: write the SavedModel with keras' own `model.export()`, whose `serve`
            endpoint returns a bare tensor; bioimageio.core 0.11.0 expects a dict of named
            outputs and fails such a bundle with an `AssertionError` without message.
            By default the endpoint returns `{"output": ...}` (see `_export_saved_model`).

    Returns:
        `out`
    """
    requested = set(formats)
    unknown = requested - set(KERAS_WEIGHT_FORMATS)
    if unknown or not requested:
        raise ValueError(
            f"unsupported or no weight formats {sorted(unknown) or list(formats)}; choose from {KERAS_WEIGHT_FORMATS}"
        )
    import tensorflow as tf

    tf_any: Any = tf
    ordered: list[KerasWeightFormat] = [f for f in KERAS_WEIGHT_FORMATS if f in requested]
    parent: KerasWeightFormat = ordered[0]
    tf_version = Version(str(tf_any.__version__).split("+")[0])

    with tempfile.TemporaryDirectory(prefix="demo_keras_model_") as tmp:
        d = Path(tmp)
        model = _tiny_keras_net()
        input_array = demo_image(64, 64)[None, :, :, None]
        output_array = np.asarray(model(input_array), dtype=np.float32)
        write_test_tensors(d, input_array, output_array, wrong_output=wrong_output)
        write_images(d, input_array[0, :, :, 0], output_array[0, :, :, 0])
        notes = [f"the stored test output is off by {WRONG_OUTPUT_OFFSET}."] if wrong_output else []
        what = ("A tiny keras demo model: a single 3x3 convolution with fixed weights that"
                " mildly sharpens a 2d grayscale image (channels last).")
        _ = (d / "README.md").write_text(model_readme(name, what, ordered, notes), encoding="utf-8")

        weights: dict[str, Any] = {}
        for wf in ordered:
            wf_parent: KerasWeightFormat | None = None if wf == parent else parent
            if wf == "keras_hdf5":
                model.save(d / "weights.h5")  # keras 3 writes the legacy HDF5 format for `.h5`
                weights[wf] = KerasHdf5WeightsDescr(source=d / "weights.h5", tensorflow_version=tf_version, parent=wf_parent)
            else:
                _export_saved_model(model, d / "saved_model", plain=plain_export)
                bundle = _zip_folder(d / "saved_model", d / "weights_saved_model.zip")
                weights[wf] = TensorflowSavedModelBundleWeightsDescr(
                    source=bundle, tensorflow_version=tf_version, parent=wf_parent
                )

        inputs, outputs = io_tensors(d, channels_last=True)
        descr = ModelDescr(
            **common_fields(
                d, name=name, version=version,
                description="A tiny single-convolution keras demo model built offline by the"
                " bioimage.io collection backoffice (for tests and demos only).",
                tags=["demo", "test", "backoffice", "2d", "keras", "fluorescence-light-microscopy"],
            ),
            id=None if concept_id is None else ModelId(concept_id),
            inputs=inputs,
            outputs=outputs,
            weights=WeightsDescr(**weights),
        )
        return save_package(descr, out)
