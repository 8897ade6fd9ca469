"""Names of the daqlab wire protocol (version 1), mirroring daq-server/src/protocol/*.ts.

This module is the only place in the client that spells protocol names; see
docs/PROTOCOL.md for their meaning.
"""

from __future__ import annotations

PROTOCOL_VERSION = 1

#: No WebSocket message, in either direction, may exceed this (Jupyter's proxy caps at 10 MiB).
MAX_MESSAGE_BYTES = 8 * 1024 * 1024
#: Largest control (text) message a client may send.
MAX_REQUEST_BYTES = 1024 * 1024
#: Binary data message: u32 little-endian header length, then the JSON header, then the payload.
ENVELOPE_PREFIX_BYTES = 4
# fields of a data message's JSON header; `times`: per-item acquisition time, ms since the epoch (null: unknown);
# `frames`: per-item acquisition frame index (null: the item is not from one frame); `frame_stats`: per item, the
# whole item's [min, max, lo, hi] when `frame_stats` percentiles were asked (a region's viewer autoscales on them)
DATA_HEADER_FIELDS = ("sub", "req", "scan", "stream", "kind", "first", "count", "msg", "part", "parts", "bytes", "times",
                      "frames", "frame_stats")

# ---------------------------------------------------------------------- limits (protocol/limits.ts)
#: deepest nesting of a control message, and of user JSON the server keeps (scan.info …)
MAX_MESSAGE_DEPTH = 64
MAX_JSON_DEPTH = 32
#: largest scan.info (and other free-form user JSON the server keeps), as JSON text
MAX_INFO_BYTES = 64 * 1024
#: per connection: subscriptions, requests being handled, a subscription's window, bytes queued
MAX_SUBSCRIPTIONS = 64
MAX_INFLIGHT_REQUESTS = 64
MAX_WINDOW = 256
MAX_QUEUED_BYTES = 128 * 1024 * 1024
MAX_STALL_MS = 60_000
#: the server pings every client this often; the client takes 3 silent intervals for a hung server
HEARTBEAT_INTERVAL_MS = 10_000
HEARTBEAT_MISSES = 3
#: WebSocket close codes: the client did not read what it asked for / did not answer pings
CLOSE_OVERLOADED = 4008
CLOSE_UNRESPONSIVE = 4009

DEFAULT_URL = "ws://127.0.0.1:8765/ws"
WS_PATH = "/ws"
URL_ENV = "DAQLAB_URL"
TOKEN_ENV = "DAQLAB_TOKEN"

# ------------------------------------------------------------------ operations
OP_HELLO = "hello"
OP_DETECTORS_LIST = "detectors.list"
OP_DETECTOR_INFO = "detector.info"
OP_DETECTOR_STATE = "detector.state"
OP_DETECTOR_STATUS = "detector.status"
OP_DETECTOR_CALIBRATION = "detector.calibration"
OP_ACQ_PREPARE = "acq.prepare"
OP_ACQ_START = "acq.start"
OP_ACQ_TRIGGER = "acq.trigger"
OP_ACQ_STOP = "acq.stop"
OP_ACQ_ABORT = "acq.abort"
OP_ACQ_RESET = "acq.reset"
OP_ACQ_STATUS = "acq.status"
OP_SCANS_LAST = "scans.last"
OP_SCANS_SEARCH = "scans.search"
OP_SCANS_WAIT_NEXT = "scans.wait_next"
OP_SCAN_GET = "scan.get"
OP_STREAM_INFO = "stream.info"
OP_STREAM_READ = "stream.read"
OP_SUBSCRIBE = "subscribe"
OP_UNSUBSCRIBE = "unsubscribe"
OP_SUB_ACK = "sub.ack"
OP_SCHEMA_GET = "schema.get"
OP_PIPELINES_LIST = "pipelines.list"
OP_PIPELINE_SCHEMA = "pipeline.schema"
OP_JOBS_CLUSTER = "jobs.cluster"
OP_JOBS_TEMPLATES = "jobs.templates"
OP_JOBS_SUBMIT = "jobs.submit"
OP_JOBS_LIST = "jobs.list"
OP_JOBS_GET = "jobs.get"
OP_JOBS_LOGS = "jobs.logs"
OP_JOBS_CANCEL = "jobs.cancel"
OP_JOBS_HOLD = "jobs.hold"
OP_JOBS_RELEASE = "jobs.release"
OP_JOBS_WATCH = "jobs.watch"
OP_JOBS_UNWATCH = "jobs.unwatch"
OP_RECEIVERS_REGISTER = "receivers.register"  # a receiver host joins its control server (daqlab-server --role receiver)
OP_RECEIVERS_LIST = "receivers.list"
OP_RECEIVERS_REPLY = "receivers.reply"  # a receiver host answers its control server (the remote frame path)
OP_RECEIVERS_RESULTS = "receivers.results"  # a receiver host's batch of processed results
# devices and step scans
OP_DEVICES_LIST = "devices.list"
OP_DEVICE_INFO = "device.info"
OP_AXIS_MOVE = "axis.move"
OP_AXIS_WAIT = "axis.wait"
OP_AXIS_STOP = "axis.stop"
OP_AXIS_RESET = "axis.reset"
OP_AXIS_CONFIGURE = "axis.configure"
OP_MCA_ADD_ROI = "mca.add_roi"
OP_MCA_REMOVE_ROI = "mca.remove_roi"
OP_MCA_CLEAR_ROIS = "mca.clear_rois"
OP_SAMPLE_INFO = "sample.info"
OP_SCANNING_RUN = "scanning.run"
OP_SCANNING_STATUS = "scanning.status"
OP_SCANNING_WAIT = "scanning.wait"
OP_SCANNING_ABORT = "scanning.abort"
OP_WORKFLOW_STATUS = "workflow.status"
OP_WORKFLOW_WAIT = "workflow.wait"
OP_CATALOGUE_DATASETS = "catalogue.datasets"
OP_CATALOGUE_DATASET = "catalogue.dataset"
OP_CATALOGUE_PROPOSALS = "catalogue.proposals"
OP_CATALOGUE_PROPOSAL = "catalogue.proposal"
OP_CATALOGUE_PUT_PROPOSAL = "catalogue.put_proposal"
OP_CATALOGUE_SET_RELEASE = "catalogue.set_release"
OP_CATALOGUE_SAMPLES = "catalogue.samples"
OP_CATALOGUE_WHOAMI = "catalogue.whoami"
OP_CATALOGUE_DOI_DRAFT = "catalogue.doi_draft"
OP_CATALOGUE_DOI_ADVANCE = "catalogue.doi_advance"
OP_CATALOGUE_DOI = "catalogue.doi"
OP_CATALOGUE_DOIS = "catalogue.dois"
OP_POLICY_GET = "policy.get"
OP_POLICY_NEW_PROPOSAL = "policy.new_proposal"
OP_POLICY_NEW_SAMPLE = "policy.new_sample"
OP_POLICY_NEW_DATASET = "policy.new_dataset"
OP_POLICY_END_PROPOSAL = "policy.end_proposal"
OP_LOGBOOK_ADD = "logbook.add"
OP_LOGBOOK_EDIT = "logbook.edit"
OP_LOGBOOK_GET = "logbook.get"
OP_LOGBOOK_SEARCH = "logbook.search"
OP_LOGBOOK_STATS = "logbook.stats"
OP_LOGBOOK_ATTACHMENT = "logbook.attachment"

OPS = (
    OP_HELLO, OP_DETECTORS_LIST, OP_DETECTOR_INFO, OP_DETECTOR_STATE, OP_DETECTOR_STATUS, OP_DETECTOR_CALIBRATION,
    OP_ACQ_PREPARE, OP_ACQ_START, OP_ACQ_TRIGGER, OP_ACQ_STOP, OP_ACQ_ABORT, OP_ACQ_RESET,
    OP_ACQ_STATUS, OP_SCANS_LAST, OP_SCANS_SEARCH, OP_SCANS_WAIT_NEXT, OP_SCAN_GET,
    OP_STREAM_INFO, OP_STREAM_READ, OP_SUBSCRIBE, OP_UNSUBSCRIBE, OP_SUB_ACK, OP_SCHEMA_GET,
    OP_PIPELINES_LIST, OP_PIPELINE_SCHEMA,
    OP_JOBS_CLUSTER, OP_JOBS_TEMPLATES, OP_JOBS_SUBMIT, OP_JOBS_LIST, OP_JOBS_GET, OP_JOBS_LOGS,
    OP_JOBS_CANCEL, OP_JOBS_HOLD, OP_JOBS_RELEASE, OP_JOBS_WATCH, OP_JOBS_UNWATCH,
    OP_RECEIVERS_REGISTER, OP_RECEIVERS_LIST, OP_RECEIVERS_REPLY, OP_RECEIVERS_RESULTS,
    OP_DEVICES_LIST, OP_DEVICE_INFO, OP_AXIS_MOVE, OP_AXIS_WAIT, OP_AXIS_STOP, OP_AXIS_RESET, OP_AXIS_CONFIGURE,
    OP_MCA_ADD_ROI, OP_MCA_REMOVE_ROI, OP_MCA_CLEAR_ROIS, OP_SAMPLE_INFO,
    OP_SCANNING_RUN, OP_SCANNING_STATUS, OP_SCANNING_WAIT, OP_SCANNING_ABORT,
    OP_WORKFLOW_STATUS, OP_WORKFLOW_WAIT,
    OP_CATALOGUE_DATASETS, OP_CATALOGUE_DATASET, OP_CATALOGUE_PROPOSALS, OP_CATALOGUE_PROPOSAL, OP_CATALOGUE_PUT_PROPOSAL, OP_CATALOGUE_SET_RELEASE,
    OP_CATALOGUE_SAMPLES, OP_CATALOGUE_WHOAMI, OP_CATALOGUE_DOI_DRAFT, OP_CATALOGUE_DOI_ADVANCE, OP_CATALOGUE_DOI, OP_CATALOGUE_DOIS,
    OP_POLICY_GET, OP_POLICY_NEW_PROPOSAL, OP_POLICY_NEW_SAMPLE, OP_POLICY_NEW_DATASET,
    OP_POLICY_END_PROPOSAL,
    OP_LOGBOOK_ADD, OP_LOGBOOK_EDIT, OP_LOGBOOK_GET, OP_LOGBOOK_SEARCH, OP_LOGBOOK_STATS, OP_LOGBOOK_ATTACHMENT,
)

#: the five sections of ``acq.prepare``'s ``params``
PREPARE_SECTIONS = ("acquisition", "detector", "processing", "saving", "scan")

# ---------------------------------------------------------------------- events
EV_ACQ_STATE = "acq.state"
EV_ACQ_COUNTERS = "acq.counters"
EV_SCAN_NEW = "scan.new"
EV_SCAN_STATE = "scan.state"
EV_SUB_GAP = "sub.gap"
EV_SUB_END = "sub.end"
EV_STORE_TRIMMED = "store.trimmed"
EV_STORE_EVICTED = "store.evicted"
EV_STORE_REDIS_TRIMMED = "store.redis_trimmed"
EV_JOBS_STATE = "jobs.state"
EV_DEVICE_STATE = "device.state"
EV_SCANNING_STATE = "scanning.state"
EV_WORKFLOW_STATE = "workflow.state"

EV_LOGBOOK_ENTRY = "logbook.entry"

EVENTS = (EV_ACQ_STATE, EV_ACQ_COUNTERS, EV_SCAN_NEW, EV_SCAN_STATE, EV_SUB_GAP, EV_SUB_END,
          EV_STORE_TRIMMED, EV_STORE_EVICTED, EV_STORE_REDIS_TRIMMED, EV_JOBS_STATE, EV_DEVICE_STATE, EV_SCANNING_STATE,
          EV_WORKFLOW_STATE, EV_LOGBOOK_ENTRY)
#: events that belong to one subscription (field ``sub``)
SUB_EVENTS = (EV_SUB_GAP, EV_SUB_END)

# ----------------------------------------------------------------- error types
ERR_PARAMETER = "ParameterError"
ERR_STATE = "StateError"
ERR_INDEX_NO_MORE_THERE = "IndexNoMoreThereError"
ERR_INDEX_NOT_YET_THERE = "IndexNotYetThereError"
ERR_INDEX_WONT_BE_THERE = "IndexWontBeThereError"
ERR_NOT_FOUND = "NotFoundError"
ERR_PROTOCOL = "ProtocolError"
ERR_AUTH = "AuthError"
ERR_TIMEOUT = "TimeoutError"
ERR_FAULT = "FaultError"
ERR_SLURM_UNAVAILABLE = "SlurmUnavailable"
ERR_LIMIT = "LimitError"
ERR_INTERNAL = "InternalError"

ERROR_TYPES = (ERR_PARAMETER, ERR_STATE, ERR_INDEX_NO_MORE_THERE, ERR_INDEX_NOT_YET_THERE,
               ERR_INDEX_WONT_BE_THERE, ERR_NOT_FOUND, ERR_PROTOCOL, ERR_AUTH, ERR_TIMEOUT,
               ERR_FAULT, ERR_SLURM_UNAVAILABLE, ERR_LIMIT, ERR_INTERNAL)

# --------------------------------------------------------------------- states
ACQ_STATES = ("IDLE", "PREPARED", "RUNNING", "STOPPED", "FAULT")
ACQ_IDLE, ACQ_PREPARED, ACQ_RUNNING, ACQ_STOPPED, ACQ_FAULT = ACQ_STATES
ACQ_FINAL_STATES = (ACQ_STOPPED, ACQ_FAULT)

SCAN_STATES = ("CREATED", "PREPARED", "STARTED", "STOPPED", "CLOSED")
SCAN_CLOSED = "CLOSED"

TRIGGER_MODES = ("internal", "software", "external")

#: kinds of AcqStatus.warnings: frames dropped by processing, a detector slower than the asked rate
RUN_WARNING_KINDS = ("dropped_frames", "frame_rate", "detector_dropped")
RUN_WARNING_DROPPED_FRAMES, RUN_WARNING_FRAME_RATE, RUN_WARNING_DETECTOR_DROPPED = RUN_WARNING_KINDS

COUNTERS = ("nb_frames_acquired", "nb_frames_transferred", "nb_frames_processed",
            "nb_frames_saved", "nb_frames_dropped", "nb_frames_invalid")

# ---------------------------------------------------------------- data model
DTYPES = ("uint8", "int8", "uint16", "int16", "uint32", "int32", "float32", "float64")

SUB_MODES = ("lossless", "latest")
SUB_LOSSLESS, SUB_LATEST = SUB_MODES

KIND_ARRAY = "array"
KIND_EVENT = "event"

SCAN_IDENTITY_FIELDS = ("name", "number", "session", "proposal", "sample", "dataset", "path")

# Arrow payload columns and schema metadata keys
COL_INDEX = "index"
COL_VALID = "valid"
COL_DATA = "data"
COL_JSON = "json"
META_DTYPE = "daqlab.dtype"
META_SHAPE = "daqlab.shape"
META_STREAM = "daqlab.stream"
META_SCAN = "daqlab.scan"
# compressed array payloads: `data` is Binary (one chunk per item), this key names the codec
META_COMPRESSION = "daqlab.compression"
COMPRESSIONS = ("none", "bslz4")

# ------------------------------------------------------------------------ jobs
JOB_STATES = ("PENDING", "RUNNING", "SUSPENDED", "COMPLETED", "FAILED", "CANCELLED", "TIMEOUT",
              "OUT_OF_MEMORY", "NODE_FAIL", "PREEMPTED", "BOOT_FAIL", "DEADLINE", "UNKNOWN")
JOB_FINAL_STATES = ("COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "OUT_OF_MEMORY", "NODE_FAIL",
                    "PREEMPTED", "BOOT_FAIL", "DEADLINE")
JOB_COMPLETED = "COMPLETED"
JOB_LOG_STREAMS = ("stdout", "stderr")
#: what jobs.submit accepts besides the template's own parameters (``params``)
JOB_SUBMIT_FIELDS = ("template", "script", "params", "name", "partition", "cpus", "gpus", "memory",
                     "time", "workdir", "env", "array", "hold")

# --------------------------------------------------------------------- e-logbook (protocol/logbook.ts)
LOGBOOK_TYPES = ("annotation", "notification")
LOGBOOK_CATEGORIES = ("info", "error", "debug", "commandline", "comment")
LOGBOOK_FORMATS = ("plainText", "html", "markdown")
LOGBOOK_MAX_ATTACHMENT_BYTES = 4 * 1024 * 1024
