#!/bin/bash
# The runs behind docs/techniques.md's sections on self-pretraining, adaptive computation time and their
# step costs, on the tiny ListOps preset (and the small text preset on real IMDb bytes). Run from the
# repository root with the venv active, one batch at a time, on an otherwise idle machine for `timing`:
#   bash benchmarks/survey_methods.sh pretrain|pretrain-text|act|timing
set -euo pipefail
T="lra train --task listops --preset tiny --model transformer --quiet"

pretrain() {
  R=runs/pretrain
  $T --set train.objective=denoise --out $R/denoise
  $T --set train.objective=autoregressive --set model.causal=true --out $R/autoregressive
  for k in 0 1 2; do
    $T --set train.seed=$k --out $R/scratch-$k
    $T --set train.seed=$k --set train.init_from=$R/denoise --out $R/from-denoise-$k
    $T --set train.seed=$k --set train.init_from=$R/autoregressive --out $R/from-autoregressive-$k
    $T --set train.seed=$k --set train.steps=2400 --out $R/scratch-2400-$k
  done
}

pretrain_text() {
  R=runs/pretrain-text
  S="lra train --task text --preset small --model transformer --quiet"
  $S --set train.objective=denoise --out $R/denoise
  $S --set train.init_from=$R/denoise --out $R/from-denoise
}

act() {
  R=runs/act
  for k in 0 1 2; do
    $T --set model.adaptive_depth=true --set model.num_layers=4 --set train.seed=$k --out $R/act-$k
  done
  $T --set model.share_layers=true --set model.num_layers=4 --out $R/shared-4
  for w in 0 0.1; do
    $T --set model.adaptive_depth=true --set model.num_layers=4 --set model.ponder_weight=$w --out $R/act-tau$w
  done
  for r in act-0 act-1 act-2 act-tau0 act-tau0.1; do
    lra eval $R/$r --halt-threshold 0.1,0.3,0.5,0.7,0.9,0.99 --json $R/$r-sweep.json
  done
}

timing() {
  R=runs/timing
  U="$T --set train.steps=400 --set train.eval_every=400 --set train.checkpoint_every=400"
  $U --out $R/classify
  $U --set train.objective=denoise --out $R/denoise
  $U --set train.objective=autoregressive --set model.causal=true --out $R/autoregressive
  $U --set model.share_layers=true --set model.num_layers=4 --out $R/shared-4
  $U --set model.adaptive_depth=true --set model.num_layers=4 --out $R/act
}

case "${1:-}" in
  pretrain) pretrain ;;
  pretrain-text) pretrain_text ;;
  act) act ;;
  timing) timing ;;
  *) echo "usage: bash benchmarks/survey_methods.sh pretrain|pretrain-text|act|timing" >&2; exit 2 ;;
esac
