"""Pre- and post-processing for the stripes sample, in the shape the SageMaker TFS container runs.

Each request is one image file (JPEG, PNG or WebP), as a transform job sends an object with
SplitType None. The model's serving signature takes images as {"b64": ...} values, as TF image models
that decode JPEG in their graph do, so the image is passed on base64-encoded and undecoded.
"""
import base64
import json

LABELS = ["horizontal stripes", "vertical stripes", "plain"]  # the model's output order (scripts/make-image-sample.ts)


def input_handler(data, context):
    image = data.read()
    if not image:
        raise ValueError("the request has no image")
    return json.dumps({"instances": [{"b64": base64.b64encode(image).decode("ascii")}]})


def output_handler(response, context):
    if response.status_code != 200:
        raise ValueError(response.text)
    scores = response.json()["predictions"][0]
    best = max(range(len(scores)), key=scores.__getitem__)
    return json.dumps({"label": LABELS[best], "score": round(scores[best], 4)}), "application/json"
