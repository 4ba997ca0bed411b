#!/usr/bin/env bash
# Train the package's weights (samosaic3d_core/checkpoints/samosaic3d_synth.safetensors and
# samosaic3d_synth_sam.safetensors, which --pipeline auto then uses) from scratch: generate the
# training / validation scenes, train the F2I stage, its pair head (F2I frozen), then the temporal
# stage (I2S, F2I frozen), all on the default family; then the pair head again on the default and
# hard families (F2I and I2S kept) for SAM-like fragments; then the learned instance confidence on
# maps made with those weights on scenes no stage saw (scripts/train_instance_scorer.py); and copy
# the three files into the package. Score it against the baseline first (bench/ablation.py, docs/ablation.md).
#
#   scripts/train_model.sh              # all steps (about 40 minutes on 2 CPU cores)
#   OUT=runs scripts/train_model.sh     # run directories under $OUT (default runs/)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
. scripts/env.sh
OUT=${OUT:-runs}

[ -d data/synth/train ] || samosaic3d make-data --out data/synth/train --scenes 12 --frames 150 --seed 100 --width 320 --height 240
[ -d data/synth/train_hard ] || samosaic3d make-data --out data/synth/train_hard --style hard --scenes 6 --frames 150 --seed 110 --width 320 --height 240
[ -d data/synth/val ] || samosaic3d make-data --out data/synth/val --scenes 2 --frames 60 --seed 200 --width 320 --height 240

samosaic3d train --stage f2i --config config/train_f2i.yaml --out "$OUT/f2i"
samosaic3d train --stage pair --init "$OUT/f2i/model.safetensors" --config config/train_pair.yaml --out "$OUT/pair"
samosaic3d train --stage temporal --init "$OUT/pair/model.safetensors" --config config/train_temporal.yaml \
  --out "$OUT/temporal"
samosaic3d train --stage pair --init "$OUT/temporal/model.safetensors" --config config/train_pair_hard.yaml \
  --out "$OUT/pair_hard"

# the instance confidence: maps of 8 default and 8 hard scenes (sim masks, two mask seeds), scored
# with the "support" confidence it reads as a feature
[ -d data/synth/score_train ] || samosaic3d make-data --out data/synth/score_train --scenes 8 --frames 60 --seed 120 --width 320 --height 240
[ -d data/synth/score_train_hard ] || samosaic3d make-data --out data/synth/score_train_hard --style hard --scenes 8 --frames 60 --seed 130 --width 320 --height 240
maps=()
for family in score_train score_train_hard; do
  for seed in 0 1; do
    run="$OUT/score_maps/${family}_m$seed"
    samosaic3d run --data "data/synth/$family" --out "$run" --masks sim --checkpoint "$OUT/pair_hard/model.safetensors" \
      --set memory.confidence=support --set masks.sim.seed=$seed
    maps+=(--maps "$run=data/synth/$family")
  done
done
python scripts/train_instance_scorer.py "${maps[@]}" --out "$OUT/instance_scorer.json"

mkdir -p samosaic3d_core/checkpoints
cp "$OUT/instance_scorer.json" samosaic3d_core/checkpoints/instance_scorer.json
cp "$OUT/temporal/model.safetensors" samosaic3d_core/checkpoints/samosaic3d_synth.safetensors
cp "$OUT/temporal/model.json" samosaic3d_core/checkpoints/samosaic3d_synth.json
cp "$OUT/pair_hard/model.safetensors" samosaic3d_core/checkpoints/samosaic3d_synth_sam.safetensors
cp "$OUT/pair_hard/model.json" samosaic3d_core/checkpoints/samosaic3d_synth_sam.json
echo "shipped weights: samosaic3d_core/checkpoints/samosaic3d_synth.safetensors (oversegment pieces)," \
  "samosaic3d_synth_sam.safetensors (SAM-like fragments: sim, fastsam, oracle), instance_scorer.json"
