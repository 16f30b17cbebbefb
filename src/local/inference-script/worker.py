"""Runs a model's code/inference.py for the local model server, as the SageMaker TFS container's
python_service.py runs it: handler(data, context), or input_handler and output_handler around a
POST of the processed input to context.rest_uri. One request at a time, in frames read from fd 3 and
written to fd 4; what the script prints goes to stderr.

usage: worker.py <inference.py> <folder to put on sys.path>...
"""
import http.client
import importlib.util
import io
import json
import os
import struct
import sys
import time
import traceback
from collections import namedtuple
from datetime import timedelta

# The fields and their order of the container's tfs_utils.Context.
Context = namedtuple(
    "Context",
    "model_name, model_version, method, rest_uri, grpc_port, channel, "
    "custom_attributes, request_content_type, accept_header, content_length",
)

HANDLERS_MISSING = "Handlers are not implemented correctly in user script."

requests_in = os.fdopen(3, "rb", buffering=0)
answers_out = os.fdopen(4, "wb", buffering=0)


def read_exactly(size):
    chunks = []
    while size > 0:
        chunk = requests_in.read(size)
        if not chunk:
            return None
        chunks.append(chunk)
        size -= len(chunk)
    return b"".join(chunks)


def read_frame():
    head = read_exactly(8)
    if head is None:
        return None, None
    meta_size, body_size = struct.unpack(">II", head)
    meta = json.loads(read_exactly(meta_size).decode("utf-8"))
    return meta, read_exactly(body_size) if body_size else b""


def write_frame(meta, body=b""):
    encoded = json.dumps(meta).encode("utf-8")
    answers_out.write(struct.pack(">II", len(encoded), len(body)) + encoded + body)


def body_bytes(body):
    """A prepared request body as bytes, as http.client would send it (str as Latin-1)."""
    if body is None:
        return b""
    if isinstance(body, str):
        return body.encode("iso-8859-1")
    if isinstance(body, (bytes, bytearray)):
        return bytes(body)
    if hasattr(body, "read"):
        return body_bytes(body.read())
    return b"".join(body_bytes(part) for part in body)


def post_to_model_server(requests, uri, data):
    """requests.post(uri, data=data), answered by the model server over the pipe instead of a socket."""
    prepared = requests.Request("POST", uri, data=data).prepare()
    started = time.monotonic()
    write_frame({"post": uri}, body_bytes(prepared.body))
    meta, content = read_frame()
    if meta is None:
        sys.exit(0)
    response = requests.models.Response()
    response.status_code = meta["status"]
    response.headers = requests.structures.CaseInsensitiveDict(meta["headers"])
    response._content = content
    response._content_consumed = True
    response.raw = io.BytesIO(content)
    response.url = uri
    response.reason = http.client.responses.get(meta["status"], "")
    response.encoding = requests.utils.get_encoding_from_headers(response.headers)
    response.request = prepared
    response.elapsed = timedelta(seconds=time.monotonic() - started)
    return response


def load_handler(script):
    spec = importlib.util.spec_from_file_location("inference", script)
    inference = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(inference)
    if hasattr(inference, "handler"):
        return inference.handler
    if hasattr(inference, "input_handler") and hasattr(inference, "output_handler"):
        import requests

        def handler(data, context):
            processed_input = inference.input_handler(data, context)
            response = post_to_model_server(requests, context.rest_uri, processed_input)
            return inference.output_handler(response, context)

        return handler
    raise NotImplementedError(HANDLERS_MISSING)


def answer(handler, meta, body):
    context = Context(channel=None, **meta["context"])
    try:
        result, content_type = handler(io.BytesIO(body), context)
        if isinstance(result, str):
            result = result.encode("utf-8")
        if not isinstance(result, (bytes, bytearray)):
            raise TypeError(
                "the handler returned a body of type {}; return bytes or str".format(type(result).__name__)
            )
        write_frame({"status": 200, "contentType": content_type or "application/json"}, bytes(result))
    except Exception as e:  # the container answers any exception so, and keeps serving
        traceback.print_exc()
        error = json.dumps({"error": str(e)}).encode("utf-8")
        write_frame({"status": 500, "contentType": "application/json"}, error)


def main():
    script, paths = sys.argv[1], sys.argv[2:]
    # What the script prints must not reach the frames: fd 1 becomes stderr.
    os.dup2(2, 1)
    # In place of this file's folder, as gunicorn's --pythonpath puts them first.
    sys.path[0:1] = paths
    try:
        handler = load_handler(script)
    except BaseException as e:  # noqa: B036 - any failure to load stops the server, and says why
        traceback.print_exc()
        write_frame({"failed": "{}: {}".format(type(e).__name__, e)})
        return
    write_frame({"ready": True})
    while True:
        meta, body = read_frame()
        if meta is None:
            return
        answer(handler, meta, body)


main()
