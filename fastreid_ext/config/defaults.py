"""Core config keys. Project keys (e.g. ``PAENET``) are added by plugins through ``register_config``.

Schedules are configured in **epochs** and converted to iterations by the trainer
(iterations per epoch as in the reference sampler, see ``DATALOADER.ITERS_PER_EPOCH``).
"""

from .config import CfgNode as CN

_C = CN()

# Plugin modules (dotted names, or paths to a .py file / package folder) imported before merging.
_C.IMPORTS = []
_C.OUTPUT_DIR = "output"
# Seeds python, numpy and torch (+ rank, + loader worker). Negative: draw a random seed and log it.
_C.SEED = 0
_C.CUDNN_BENCHMARK = False
# Deterministic algorithms (torch.use_deterministic_algorithms(warn_only=True)).
_C.DETERMINISTIC = False
# Intra-op threads of each process (torch.set_num_threads at setup). 0 = auto: the CPUs the process
# may use (affinity mask, cgroup CPU quota), shared by the processes of this machine; the log says
# what was chosen and why. torch's own default (one per host core) stalls on a busy or quota-limited machine.
_C.NUM_THREADS = 0

# -----------------------------------------------------------------------------
# MODEL
# -----------------------------------------------------------------------------
_C.MODEL = CN()
# "auto": cuda when available, else cpu. Any torch device string otherwise.
_C.MODEL.DEVICE = "auto"
_C.MODEL.META_ARCHITECTURE = "CrossModalBaseline"
# Checkpoint to load (fvcore/our format, raw state dict, or official PAENet .t file).
_C.MODEL.WEIGHTS = ""
# Allow full unpickling (torch.load(weights_only=False)) of MODEL.WEIGHTS. Only for files you trust.
_C.MODEL.WEIGHTS_TRUSTED = False

_C.MODEL.BACKBONE = CN()
_C.MODEL.BACKBONE.NAME = "TwoStreamResNet"
_C.MODEL.BACKBONE.DEPTH = 50  # 18, 34 or 50
_C.MODEL.BACKBONE.LAST_STRIDE = 1
# First torchvision stage shared by both modalities ("layer1".."layer4"); earlier stages (stem
# included) are modality-specific. Reference (share_net=3): layer3.
_C.MODEL.BACKBONE.SHARED_FROM = "layer3"
# ImageNet weights: from PRETRAIN_PATH when set, else from the torchvision weights enum when
# PRETRAIN is True (needs network), else random init.
_C.MODEL.BACKBONE.PRETRAIN = False
_C.MODEL.BACKBONE.PRETRAIN_PATH = ""
# Run the convolutions in channels-last (NHWC) memory format: the same function, faster on CPU
# (oneDNN) and on GPU tensor cores.
_C.MODEL.BACKBONE.CHANNELS_LAST = True
# NonLocalTwoStreamResNet (AGW): non-local blocks after the last NUM_BLOCKS[i] blocks of layer{i+1};
# [] = the AGW layout, the last half of layer2 and layer3 ([0, 2, 3, 0] for ResNet-50, [0, 1, 1, 0]
# for ResNet-18). INTER_CHANNELS: width of theta/phi/g (community AGW checkpoints: 1).
_C.MODEL.BACKBONE.NON_LOCAL = CN()
_C.MODEL.BACKBONE.NON_LOCAL.NUM_BLOCKS = []
_C.MODEL.BACKBONE.NON_LOCAL.INTER_CHANNELS = 1

# torch.compile of the model's forward for training (engine/compile.py): fewer kernel launches on a
# GPU. Falls back to eager with a warning where compilation is unavailable or fails. MODE: default |
# reduce-overhead (CUDA graphs) | max-autotune | max-autotune-no-cudagraphs; BACKEND: a torch.compile backend.
_C.MODEL.COMPILE = CN()
_C.MODEL.COMPILE.ENABLED = False
_C.MODEL.COMPILE.MODE = "default"
_C.MODEL.COMPILE.BACKEND = "inductor"

# Normalisation layers of the backbone and necks in a multi-process run: "BN" (per-process batch
# statistics; DDP broadcasts rank 0's running statistics) | "SyncBN" (statistics over the whole
# distributed batch; torch.nn.SyncBatchNorm runs on CUDA only). One process: always plain BN.
_C.MODEL.NORM = "BN"

_C.MODEL.HEADS = CN()
# 0: taken from the training dataset.
_C.MODEL.HEADS.NUM_CLASSES = 0
_C.MODEL.HEADS.POOL = "gem"  # gem | avg
_C.MODEL.HEADS.GEM_P = 3.0
_C.MODEL.HEADS.GEM_LEARNABLE = False
_C.MODEL.HEADS.NECK = "bnneck"  # bnneck | none
# Which eval output is the retrieval feature: "FC" (after BNNeck) or "POOL" (pre-BN).
_C.MODEL.HEADS.RETRIEVAL_FEATURE = "FC"

# 0: taken from the training dataset's attribute files.
_C.MODEL.NUM_ATTRIBUTES = 0
# HCTPCB (the published HCT): the map is cut into NUM_STRIPES horizontal stripes, each GeM-pooled
# (GEM_P; the HCT code: 10 for RegDB, 3 for SYSU) and reduced to LOCAL_DIM by 1x1 conv + BN + ReLU.
# MODEL.LOSSES.HCTRI.SCALE (its w_center) weighs the per-stripe triplet terms; CONCAT_HCTRI_SCALE the
# triplet on the concatenated stripes (1 in its train_mine.py).
_C.MODEL.PCB = CN()
_C.MODEL.PCB.NUM_STRIPES = 6
_C.MODEL.PCB.LOCAL_DIM = 256
_C.MODEL.PCB.GEM_P = 10.0
_C.MODEL.PCB.CONCAT_HCTRI_SCALE = 1.0

_C.MODEL.LOSSES = CN()
# Loss terms, each logged separately as loss_<name>.
_C.MODEL.LOSSES.NAME = ["CrossEntropyLoss", "HeteroCenterTripletLoss", "MarginMMDLoss"]
_C.MODEL.LOSSES.CE = CN()
_C.MODEL.LOSSES.CE.EPSILON = 0.0  # label smoothing
_C.MODEL.LOSSES.CE.SCALE = 1.0
_C.MODEL.LOSSES.HCTRI = CN()
_C.MODEL.LOSSES.HCTRI.MARGIN = 0.3
_C.MODEL.LOSSES.HCTRI.SCALE = 2.0
_C.MODEL.LOSSES.MMD = CN()
_C.MODEL.LOSSES.MMD.MARGIN = 1.40  # MarginMMDLoss; 0 = no margin
_C.MODEL.LOSSES.MMD.NUM_KERNELS = 5
_C.MODEL.LOSSES.MMD.KERNEL_MUL = 2.0
_C.MODEL.LOSSES.MMD.SCALE = 0.25
# GlobalMMDLoss: all visible rows against all infrared rows (reference MMD_Loss, --dist_disc mmd).
_C.MODEL.LOSSES.GLOBAL_MMD = CN()
_C.MODEL.LOSSES.GLOBAL_MMD.NUM_KERNELS = 5
_C.MODEL.LOSSES.GLOBAL_MMD.KERNEL_MUL = 2.0
_C.MODEL.LOSSES.GLOBAL_MMD.SCALE = 0.25
# WeightedRegularizedTripletLoss (AGW): softmax-weighted positives/negatives, soft margin.
_C.MODEL.LOSSES.WRT = CN()
_C.MODEL.LOSSES.WRT.NORM_FEAT = False
_C.MODEL.LOSSES.WRT.SCALE = 1.0

# -----------------------------------------------------------------------------
# INPUT
# -----------------------------------------------------------------------------
_C.INPUT = CN()
_C.INPUT.SIZE_TRAIN = [288, 144]  # H, W
_C.INPUT.SIZE_TEST = [288, 144]
_C.INPUT.PADDING = 10
_C.INPUT.FLIP_PROB = 0.5
_C.INPUT.PIXEL_MEAN = [0.485, 0.456, 0.406]  # 0-1 scale, RGB
_C.INPUT.PIXEL_STD = [0.229, 0.224, 0.225]
_C.INPUT.REA = CN()  # random erasing
_C.INPUT.REA.ENABLED = False
_C.INPUT.REA.PROB = 0.5
_C.INPUT.CHANNEL_AUG = CN()  # random grayscale / channel exchange on visible images
_C.INPUT.CHANNEL_AUG.ENABLED = False
_C.INPUT.CHANNEL_AUG.PROB = 0.5
# Unreadable image: False raises naming the file; True skips it with a warning and a count.
_C.INPUT.SKIP_UNREADABLE = False

# -----------------------------------------------------------------------------
# DATASETS
# -----------------------------------------------------------------------------
_C.DATASETS = CN()
# "" = $FASTREID_DATASETS when set, else "datasets" (read when a dataset is built).
_C.DATASETS.ROOT = ""
_C.DATASETS.NAMES = ["SYSU_MM01"]  # training
_C.DATASETS.TESTS = ["SYSU_MM01"]  # evaluation
# Validation datasets for model selection (e.g. ["SYSU_MM01_val"]: the val ids of exp/val_id.txt,
# evaluated with the test protocol); their identities must be held out of training
# (DATASETS.SYSU.HOLD_OUT_VAL True). [] = no validation: the last checkpoint is the result.
_C.DATASETS.VAL = []
_C.DATASETS.SYSU = CN()
# False (official): train on train_id.txt + val_id.txt. True: train on train_id.txt only.
_C.DATASETS.SYSU.HOLD_OUT_VAL = False
_C.DATASETS.REGDB = CN()
_C.DATASETS.REGDB.TRIAL = 1  # 1..10
_C.DATASETS.ATTRIBUTES = CN()
_C.DATASETS.ATTRIBUTES.ENABLED = True
# Attribute file or folder; "" = the dataset's default location (see datasets/README.md).
_C.DATASETS.ATTRIBUTES.PATH = ""
# SYSU per-camera .mat: what to do for a pid past the last column or a placeholder column.
# "other_camera" (same modality first, then the other, else unknown) | "zeros" | "as_is"
_C.DATASETS.ATTRIBUTES.FALLBACK = "other_camera"
# Names of the attributes (their count is len(NAMES)); [] = the dataset's defaults.
_C.DATASETS.ATTRIBUTES.NAMES = []
# Synthetic data for demos: when PRESET is set, the command line's data-preparation step (run once
# before anything is built) generates every dataset of NAMES/TESTS missing under ROOT. "" = never
# (reading a dataset never writes); "default" = the generator's defaults; other values name a
# generator preset. A saved config.yaml stores "" (its data exists by then).
_C.DATASETS.SYNTHETIC = CN()
_C.DATASETS.SYNTHETIC.PRESET = ""
_C.DATASETS.SYNTHETIC.SEED = 0
_C.DATASETS.SYNTHETIC.NUM_IDS = 0  # 0 = generator default
_C.DATASETS.SYNTHETIC.IMAGES_PER_CAMERA = 0

# -----------------------------------------------------------------------------
# DATALOADER
# -----------------------------------------------------------------------------
_C.DATALOADER = CN()
_C.DATALOADER.NUM_WORKERS = 2
_C.DATALOADER.PERSISTENT_WORKERS = True
# Batches loaded ahead by each worker (torch's prefetch_factor); 0 = torch's default (2). Only with workers.
_C.DATALOADER.PREFETCH_FACTOR = 0
_C.DATALOADER.IDS_PER_BATCH = 4  # P
_C.DATALOADER.NUM_INSTANCES = 4  # K images per identity and modality
# 0: floor(max(#visible, #infrared) / (P*K)) + 1, as the reference sampler.
_C.DATALOADER.ITERS_PER_EPOCH = 0

# -----------------------------------------------------------------------------
# SOLVER
# -----------------------------------------------------------------------------
_C.SOLVER = CN()
_C.SOLVER.OPTIMIZER = "SGD"  # SGD | Adam | AdamW
_C.SOLVER.BASE_LR = 0.1
_C.SOLVER.MOMENTUM = 0.9
_C.SOLVER.NESTEROV = True
_C.SOLVER.WEIGHT_DECAY = 5e-4
# [regex, factor] pairs matched (re.search) against parameter names; first match wins, else 1.0.
_C.SOLVER.LR_MULTIPLIERS = [["^backbone\\.", 0.1]]
_C.SOLVER.MAX_EPOCH = 61
_C.SOLVER.WARMUP_EPOCHS = 10
_C.SOLVER.WARMUP_FACTOR = 0.1  # lr factor at the first warm-up epoch
# "epoch": the factor changes once per epoch (reference: (e+1)/10); "iter": linear per iteration.
_C.SOLVER.WARMUP_STEP = "epoch"
_C.SOLVER.STEPS = [20, 50]  # epochs
_C.SOLVER.GAMMA = 0.1
# Schedule after warm-up, fast-reid's names: "MultiStepLR" (GAMMA at STEPS) | "CosineAnnealingLR"
# (constant for DELAY_EPOCHS more epochs, then cosine from each group's lr down to
# lr * ETA_MIN_LR / BASE_LR at the end of the run, updated every iteration).
_C.SOLVER.SCHED = "MultiStepLR"
_C.SOLVER.DELAY_EPOCHS = 0
_C.SOLVER.ETA_MIN_LR = 1e-7
# Gradient clipping before every optimizer step (fast-reid/detectron2 keys), after AMP unscaling:
# CLIP_TYPE "norm" (total NORM_TYPE-norm of all gradients <= CLIP_VALUE) | "value" (each entry
# clamped to [-CLIP_VALUE, CLIP_VALUE]).
_C.SOLVER.CLIP_GRADIENTS = CN()
_C.SOLVER.CLIP_GRADIENTS.ENABLED = False
_C.SOLVER.CLIP_GRADIENTS.CLIP_TYPE = "norm"
_C.SOLVER.CLIP_GRADIENTS.CLIP_VALUE = 5.0
_C.SOLVER.CLIP_GRADIENTS.NORM_TYPE = 2.0
_C.SOLVER.CHECKPOINT_PERIOD = 10  # epochs
_C.SOLVER.MAX_TO_KEEP = 3
_C.SOLVER.AMP = CN()
_C.SOLVER.AMP.ENABLED = False
_C.SOLVER.AMP.DTYPE = "auto"  # auto (bf16 on cpu, fp16 on cuda) | float16 | bfloat16
# Stop with an error when a loss is non-finite.
_C.SOLVER.CHECK_FINITE_LOSS = True
_C.SOLVER.LOG_PERIOD = 20  # iterations
# Freeze parameters by name prefix (a dotted module path of the bare model, e.g. "aal" or
# "base.backbone.layer4") while FROM_EPOCH <= epoch < UNTIL_EPOCH (-1: to the end). Frozen
# parameters get no gradient and no optimizer update (no weight decay, no momentum drift); with
# BN_EVAL their modules stay in eval mode (BatchNorm statistics frozen too). The schedule is kept in
# the checkpoint, so --resume continues it. fast-reid's MODEL.FREEZE_LAYERS / SOLVER.FREEZE_ITERS.
_C.SOLVER.FREEZE = CN()
_C.SOLVER.FREEZE.PREFIXES = []
_C.SOLVER.FREEZE.FROM_EPOCH = 0
_C.SOLVER.FREEZE.UNTIL_EPOCH = -1
_C.SOLVER.FREEZE.BN_EVAL = True

# -----------------------------------------------------------------------------
# TRAIN (hooks)
# -----------------------------------------------------------------------------
_C.TRAIN = CN()
# Names in HOOK_REGISTRY; inserted after the LR scheduler hook, before evaluation/checkpointing.
_C.TRAIN.HOOKS = []

# -----------------------------------------------------------------------------
# TEST
# -----------------------------------------------------------------------------
_C.TEST = CN()
_C.TEST.EVAL_PERIOD = 2  # epochs; 0 = only at the end
_C.TEST.EVAL_START_EPOCH = 10  # periodic evaluation from this epoch on (reference: e > 9)
_C.TEST.IMS_PER_BATCH = 64
# Precise BN (fast-reid's keys): before every evaluation while training, the BN running statistics
# are recomputed as the population statistics of NUM_ITER training batches with the weights fixed
# (fvcore's update_bn_stats). DATASET: the training dataset whose train split is used; "" = DATASETS.NAMES.
_C.TEST.PRECISE_BN = CN()
_C.TEST.PRECISE_BN.ENABLED = False
_C.TEST.PRECISE_BN.DATASET = ""
_C.TEST.PRECISE_BN.NUM_ITER = 300
# "" = the dataset's default evaluator.
_C.TEST.EVALUATOR = ""
# Model selection (model_best.pth). SELECT_METRIC: a key of the flattened results
# ("<dataset>/<protocol>/[<attr source>/]<feature>/<metric>"); "" = the first Rank-1 of the
# DATASETS.VAL results that is not computed with ground-truth attributes. Without DATASETS.VAL no
# checkpoint is selected, unless SELECT_ON_TEST is True or SELECT_METRIC names a test task; the log
# and results.json then say "selected on test data". (Called TEST.METRIC up to 0.1; see below.)
_C.TEST.SELECT_METRIC = ""
# fast-reid's key and meaning: the ranking distance, "cosine" | "euclidean". "" = keep
# TEST.RANKING.DISTANCE; a value is copied there when the config is loaded (config.resolve_aliases).
_C.TEST.METRIC = ""
_C.TEST.SELECT_ON_TEST = False
_C.TEST.MAX_RANK = 20
# Features evaluated, the first is the primary one: FC (retrieval, after BNNeck), POOL (pre-BN).
_C.TEST.FEATURES = ["FC", "POOL"]
# Test-time attribute sources (models that take attributes as input): gt | predicted | zeros.
# [] = the model takes no attributes.
_C.TEST.ATTRIBUTE_SOURCES = []
# Write OUTPUT_DIR/features[-<attribute source>].npz (query/gallery pools) for tools/visualize_ranks.py.
_C.TEST.SAVE_FEATURES = False
# fast-reid's TEST.ROC idea: TPR at FPR 1e-4, 1e-3, 1e-2, 1e-1 (percent) of the first trial of every
# task x feature, from the pairs the protocol's camera rule keeps; result keys <...>/<feature>/TPR@FPR1e-3
# (no -std: one trial). Its added evaluation time: docs/tools.md, bench/roc_overhead.py.
_C.TEST.ROC = CN()
_C.TEST.ROC.ENABLED = True
# Failure analysis: Rank-1/mAP of the first trial per (query camera, gallery camera) pair of every task x
# feature, in results.json "breakdown" (not result keys) and as a table in the log.
_C.TEST.CAMERA_BREAKDOWN = CN()
_C.TEST.CAMERA_BREAKDOWN.ENABLED = True
_C.TEST.RANKING = CN()
_C.TEST.RANKING.BACKEND = "auto"  # auto | faiss | torch
_C.TEST.RANKING.DISTANCE = "cosine"  # cosine (inner product of L2-normalised) | euclidean
_C.TEST.RANKING.QUERY_CHUNK = 1024
# Intra-op threads of the metric kernel and of re-ranking on CPU (the matrix products keep
# NUM_THREADS'): memory-bound passes that gain from a second thread on an idle machine and collapse
# beside busy processes. 0 = auto: the kernel scores each block's row pieces on as many single-threaded
# row workers as the run has threads (no barrier between them; same numbers), and re-ranking (or the
# kernel where workers cannot run) takes the faster of the run's threads and one, tried on the first
# blocks of each evaluation (utils.threads.ThreadProbe); n > 0: n threads.
_C.TEST.RANKING.KERNEL_THREADS = 0
# Trials of a protocol (SYSU: 4 tasks x 10 galleries on one distance matrix) scored at once on CPU, each
# on one intra-op thread with its own buffers: no barrier between them, so a busy core slows one trial
# instead of stalling every pass, and one trial's serial passes overlap another's. 0 = the run's
# intra-op threads (NUM_THREADS); 1 = one after another (the kernel then on KERNEL_THREADS). Same numbers.
_C.TEST.RANKING.TRIAL_WORKERS = 0
# Test-time options, fast-reid's keys and defaults. Results computed with them name them in the
# feature label (e.g. "FC+flip+aqe+rerank"), in results.json ("test_time") and in the tables.
_C.TEST.FLIP = CN()
_C.TEST.FLIP.ENABLED = False  # outputs averaged over each image and its horizontal flip
_C.TEST.AQE = CN()  # average query expansion over query + gallery features
_C.TEST.AQE.ENABLED = False
_C.TEST.AQE.QE_TIME = 1
_C.TEST.AQE.QE_K = 5
_C.TEST.AQE.ALPHA = 3.0
_C.TEST.RERANK = CN()  # k-reciprocal re-ranking (Zhong et al., CVPR 2017)
_C.TEST.RERANK.ENABLED = False
_C.TEST.RERANK.K1 = 20
_C.TEST.RERANK.K2 = 6
_C.TEST.RERANK.LAMBDA = 0.3
_C.TEST.SYSU = CN()
_C.TEST.SYSU.MODES = ["all", "indoor"]
_C.TEST.SYSU.SHOTS = ["single", "multi"]
_C.TEST.SYSU.NUM_TRIALS = 10
_C.TEST.SYSU.MULTI_SHOT_IMAGES = 10
# CMC reported as Rank-k on SYSU: "identity" (ranks count distinct gallery ids, the author CMC that
# SYSU papers report) | "image" (standard CMC). RegDB always uses the standard CMC.
_C.TEST.SYSU.CMC = "identity"
# Trials while training (a cheaper selection signal); <= 0: NUM_TRIALS.
_C.TEST.SYSU.TRAIN_EVAL_TRIALS = 1
_C.TEST.REGDB = CN()
_C.TEST.REGDB.DIRECTIONS = ["visible2infrared", "infrared2visible"]
