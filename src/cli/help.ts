import { CALIBRATION_LIMITS } from '../core/calibration.ts';
import { DEFAULT_DATA_DIR } from './usage.ts';

export const PIPELINE_HELP = `pipeline: batch inference for TensorFlow models on SageMaker, and the same pipeline on this machine

Usage:
  pipeline run <file or folder...>     run the whole pipeline locally on the inputs and wait
  pipeline up [options]                the local stack as a service: inbox folder, webhook, nightly
  pipeline status [jobId]              the jobs of a data dir and how they ended
  pipeline rerun <jobId>               run a past job again: same inputs and spec (an interrupted one
                                       under its own id, any other under a new one)
  pipeline serve --model M             the local model server alone (TFS REST API, SageMaker contract)
  pipeline package <model dir>         check a model and write the model.tar.gz the TFS container takes
  pipeline check <file...> [options]   read files as the Shard step would and report bad records
  pipeline plan <file or folder...>    what a job would do in the cloud and about what it would cost
  pipeline sweep [options]             find (and with --delete, delete) what stopped runs left behind
  pipeline <command> --help            the options of a command

Exit status: 0 when the job succeeded (check: every record can be scored), 1 when it failed
(check: some records would be quarantined), 2 on a usage error.
`;

export const RUN_HELP = `pipeline run <file or folder...> [options]: run the whole pipeline locally on the inputs and wait

The inputs are scored by the model with the same state machine and step functions as in the cloud, a
local SageMaker and the local model server (onnxruntime). Results: <out>/<name>.out (one line per
record, in input order), <out>/_errors.jsonl (records that could not be scored, and why) and
<out>/_summary.json (counts). Progress goes to stderr.

A file is named by its base name (data.jsonl -> <out>/data.jsonl.out). A folder is one input of the
job: every file below it, in key order (the UTF-8 byte order of the paths below it), named by its path
below it (data/a/x.jsonl -> <out>/a/x.jsonl.out); hidden files and folders, *.job.json sidecars,
_SUCCESS markers and empty files are skipped. Two inputs that would write the same result are refused.
A file named *.gz, or any input of a job with "compressionType": "Gzip", is decompressed as it is read;
its results are plain (data.jsonl.gz -> data.jsonl.gz.out).

Options:
  --model M          a model folder in TFS layout (<name>/<version>/model.onnx), a model root as
                     model.tar.gz lays it out (version folders, code/inference.py), or the .tar.gz
  --job F            a job spec (JSON; see the README); a relative "model" in it is relative to F
  --out DIR          where the results go (default: results/<jobId>, or the data dir's results/<jobId>)
  --data-dir DIR     the folder playing the bucket (default: a fresh temporary one, removed afterwards);
                     the same run, interrupted there before, runs again from the start under its job id
  --model-url URL    score with a running server that speaks the SageMaker container contract
                     (/ping, /invocations), such as TensorFlow Serving's SageMaker image, instead;
                     no model is needed then
  --json             print the job's summary as JSON, as the last line of stdout
  --timings          print where the time went: start, modules, state machine, model server, scoring
  -h, --help         this text
`;

export const UP_HELP = `pipeline up [options]: the local stack as a long-running service, until Ctrl-C

Over a data dir that plays the bucket: a file dropped into <dir>/inbox/ is scored once its size stops
changing (a sidecar <file>.job.json copied just after it still applies), with the job spec in
<dir>/config/default-job.json; results land in <dir>/results/<jobId>/. The webhook listens on
localhost: POST /runs, signed as the README shows, reruns a job or scores given inputs. The nightly
schedule is <dir>/config/nightly.json: {"schedule": "0 2 * * *", "datasets": [{"name", "prefix", "job"}]}.

Every file dropped is scored once, whatever happens to the process. On start, jobs that were running
when a previous pipeline up died (killed, crashed, out of memory) run again from the start under the
same job id, their partial work cleared, and files that arrived meanwhile are picked up. One pipeline
up serves a data dir: a second one refuses to start, naming the process that has it (<dir>/up.lock).
SIGINT (Ctrl-C) or SIGTERM: no new job starts, the jobs under way have --grace-seconds to end, and
those still running then are left for the next start to resume; the exit status is 0.

Options:
  --data-dir DIR         the folder playing the bucket (default ${DEFAULT_DATA_DIR})
  --port N               the webhook's port (default 8080; 0 picks a free one)
  --host H               the address it listens on (default 127.0.0.1)
  --model-url URL        score with a running server that speaks the SageMaker container contract
                         (jobs then need no model)
  --settle-seconds N     how long an inbox job waits for a sidecar before planning (default 2)
  --grace-seconds N      how long jobs under way may take to end once stopped (default 30)
  -h, --help             this text

The webhook secret is PIPELINE_WEBHOOK_SECRET, or one made on first start and kept, readable by you
only, in <dir>/config/webhook-secret.
`;

export const STATUS_HELP = `pipeline status [jobId] [options]: the jobs of a data dir and how they ended

Without a job id, one line per job (oldest first); with one, that job and where its results are.

Options:
  --data-dir DIR   the folder playing the bucket (default ${DEFAULT_DATA_DIR})
  --json           print JSON
  -h, --help       this text
`;

export const RERUN_HELP = `pipeline rerun <jobId> [options]: run a past job again, with the same inputs and job spec

The new job gets its own id; its _summary.json names the job it reruns ("rerunOf"). A job that was
interrupted (its process ended while it ran; pipeline status says Interrupted) runs again from the
start under its own id instead, its partial work cleared, so its results land where they would have.

Options:
  --data-dir DIR    the folder playing the bucket (default ${DEFAULT_DATA_DIR})
  --new-id          an interrupted job too gets a new id; the interrupted one is closed, its partial
                    work cleared, and never resumed
  --out DIR         also copy the results there
  --model-url URL   score with a running server that speaks the SageMaker container contract instead
  --json            print the job's summary as JSON, as the last line of stdout
  -h, --help        this text
`;

export const SERVE_HELP = `pipeline serve --model M [options]: the local model server alone, like the SageMaker TFS container

M is what a model.tar.gz for the SageMaker TensorFlow Serving container holds, or the .tar.gz itself:
a model folder with version folders (<name>/<version>/model.onnx; its name is the folder's), or a
model root with version folders or <name>/<version>/ folders and an optional code/ (inference.py,
requirements.txt, lib/). Every all-digit folder is a version (00000123 is 123) and every version
serves; a request naming none gets the highest. Several models: SAGEMAKER_TFS_DEFAULT_MODEL_NAME names
the default. Each version needs a model.onnx (a SavedModel beside it is for the cloud).

It answers GET /ping, POST /invocations (through code/inference.py when there is one, run by python3
worker processes: PIPELINE_PYTHON, else the first of python3 and /usr/bin/python3 that has the
requests package), GET /execution-parameters, and the TFS REST API:
POST /v1/models/<name>[/versions/<v>]:predict|classify|regress, GET /v1/models/<name>[/metadata].

Options:
  --model M      the model folder, model root or model.tar.gz
  --port N       the port (default 8080; 0 picks a free one)
  --host H       the address to listen on (default 127.0.0.1)
  -h, --help     this text
`;

export const PACKAGE_HELP = `pipeline package <model dir> [options]: write the model.tar.gz the SageMaker TFS container takes

The model folder holds version folders (all digits, each with saved_model.pb or model.onnx), or
<name>/<version>/ folders, and maybe code/. The archive holds them at its root with code/ beside them,
so the same file serves locally (pipeline serve --model model.tar.gz) and in the cloud. Checked first:
each version folder holds a model, and code/inference.py compiles under python3 and defines handler,
or both input_handler and output_handler.

Options:
  --code DIR     the code/ to package (inference.py, requirements.txt, lib/) instead of <model dir>/code
  --out FILE     the archive to write (default model.tar.gz)
  -h, --help     this text

Exit status: 0 when written, 2 when a rule is broken (named on stderr).
`;

export const CHECK_HELP = `pipeline check <file...> [options]: read files as the Shard step would and report bad records

Options:
  --content-type T     application/jsonlines (default), application/json, text/csv,
                       application/x-tfrecord, application/x-recordio, or any other type
  --split-type S       Line (default), RecordIO, TFRecord or None
  --input-filter P     a JSONPath filter, as in the job spec's dataProcessing.inputFilter
  --csv-header         the first CSV record is a header
  --max-payload-mb N   the request size limit (maxPayloadInMB, default 6)
  --json               print one JSON summary per file instead of text
  -h, --help           this text

Exit status: 0 when every record can be scored, 1 when some would be quarantined, 2 on a usage error.
`;

export const SWEEP_HELP = `pipeline sweep [options]: find what stopped or crashed runs left in a data dir, and delete it

A stopped execution runs no cleanup, and a killed process none either. This finds, older than the
grace period and owned by no running execution (one whose process is still alive):
  - models (and endpoints) the local SageMaker created and nobody deleted, as the scheduled orphan
    sweeper finds them in the cloud;
  - work/<jobId>/ folders, which a lifecycle rule expires in the cloud;
  - half-written files (*.partial) whose writing process has died.
It only lists them (a dry run) unless given --delete.

Options:
  --data-dir DIR          the folder playing the bucket (default ${DEFAULT_DATA_DIR})
  --older-than-hours N    the grace period (default 6); 0 also takes what a job starting right now
                          may have just created
  --delete                delete what is found
  --json                  print what was found (or deleted) and kept, and why, as JSON
  -h, --help              this text

Exit status: 0 whether or not anything was found, 1 when something could not be deleted, 2 on a usage
error.
`;

export const PLAN_HELP = `pipeline plan <file or folder...> [options]: what a job would do in the cloud, and about what it would cost

Reads the inputs as the Shard step would (folders and gzip as pipeline run takes them; nothing is
written, nothing runs) and tells: the records to
score and those that would be quarantined, the shards, whether a transform job or a serverless endpoint
would score them (a job of fewer records than endpointMaxRecords goes to an endpoint), on which
instances, in how many requests, the packaging of a tfhub: model, and the estimated instance-minutes
and cost. Prices come from the table in src/core/prices.ts, whose date is printed. Time is estimated
from a rate in records a second per instance, and the plan says where it comes from: --calibrate
measures it, --records-per-second gives it, and without either it is an assumption (100 a second).

--calibrate starts the local model server on the job's model (as pipeline run does) and sends it the
first requests of the inputs, packed as the transform job would send them (the job's batchStrategy,
maxPayloadInMB, contentType, and maxConcurrentTransforms at a time): after one warm-up request, for
at most ${CALIBRATION_LIMITS.seconds} s or ${CALIBRATION_LIMITS.records.toLocaleString('en-US')} records, the model server's start-up not timed. The rate measured here is then
scaled to the job's instance type by a stated factor: for GPU instances an assumed speed-up (x 8 for
ml.p3.*), for CPU instances their vCPUs over the cores used here; rerun on the real instance to
know. A model that does not load, or that fails every request, ends the plan with exit status 1.

Images (an image contentType, or, when the job spec gives no contentType, files all named .jpg, .jpeg,
.png or .webp), each scored whole, get the configuration AWS published for 100,000 JPEG images
proposed (splitType None, batchStrategy SingleRecord, maxPayloadInMB 1, maxConcurrentTransforms 64)
and TFRecord files of tf.Example images that of its TFRecord run (TFRecord, SingleRecord, 1 MB, 100,
and TFS request batching); fields the job spec sets win. Without --records-per-second or --calibrate,
their time is estimated from the rate AWS measured on ml.p3.2xlarge, which the plan names.

Options:
  --model M                 the model (a tfhub: handle is packaged first)
  --job F                   a job spec (JSON), as for pipeline run
  --data-dir DIR            a data dir whose config/default-job.json applies under --job
  --records-per-second N    records one instance (or the endpoint) scores a second (default: an
                            assumed 100)
  --calibrate               measure the rate on this machine with the job's model, then scale it
  --json                    print the estimate and each file's counts as JSON
  -h, --help                this text

Exit status: 0; 1 when --calibrate cannot measure the model; 2 on a usage error.
`;
