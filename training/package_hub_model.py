"""Packages a TF-Hub model for TensorFlow Serving, as a SageMaker script-mode training job.

SageMaker's TensorFlow training container runs this file with the job's hyperparameters as arguments
(--handle, --model_name, --model_version) and SM_* environment variables. It loads the handle and saves
it as a SavedModel under SM_MODEL_DIR/<name>/<version>/, the layout the SageMaker TensorFlow Serving
container serves; the files of the optional `inference` and `requirements` channels become
code/inference.py and code/requirements.txt beside it. SageMaker packs SM_MODEL_DIR into model.tar.gz.
"""

import argparse
import os
import shutil
import sys

import tensorflow as tf
import tensorflow_hub as hub

CODE_FILES = {"inference": "inference.py", "requirements": "requirements.txt"}


def hub_url(handle):
    """A handle given as publisher/model/version is one of tfhub.dev's."""
    return handle if "://" in handle else "https://tfhub.dev/" + handle


def only_file(directory):
    files = [
        os.path.join(root, name) for root, _, names in os.walk(directory) for name in names
    ]
    if len(files) != 1:
        raise SystemExit(f"channel {directory} holds {len(files)} files; one was expected")
    return files[0]


def main(argv):
    parser = argparse.ArgumentParser()
    parser.add_argument("--handle", required=True)
    parser.add_argument("--model_name", required=True)
    parser.add_argument("--model_version", default="1")
    # Script mode may pass more (model_dir, say): they are not needed here.
    args, _ = parser.parse_known_args(argv)

    model_dir = os.environ.get("SM_MODEL_DIR", "/opt/ml/model")
    export_dir = os.path.join(model_dir, args.model_name, str(args.model_version))
    model = hub.load(hub_url(args.handle))
    signatures = dict(getattr(model, "signatures", None) or {})
    tf.saved_model.save(model, export_dir, signatures=signatures or None)

    for channel, target in CODE_FILES.items():
        source = os.environ.get("SM_CHANNEL_" + channel.upper())
        if source:
            os.makedirs(os.path.join(model_dir, "code"), exist_ok=True)
            shutil.copyfile(only_file(source), os.path.join(model_dir, "code", target))
    print(f"saved {args.handle} as {args.model_name}/{args.model_version} in {model_dir}")


if __name__ == "__main__":
    main(sys.argv[1:])
