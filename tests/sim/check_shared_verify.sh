#!/bin/sh
# --shared-verify (one verification per signature for all simulated nodes, used by scripts/sim)
# must not change what happens: the same schedules give the same decisions, messages and rounds
# as every node verifying for itself.
set -u
sim=$1
args="--nodes 7 --byzantine 2 --crash --schedules 40 --seed 770001"
# shellcheck disable=SC2086 # $args is a list of words
own=$("$sim" $args | sed 's/ wall_s=.*//')
# shellcheck disable=SC2086
shared=$("$sim" $args --shared-verify | sed 's/ wall_s=.*//')
echo "own:    $own"
echo "shared: $shared"
[ "$own" = "$shared" ] || { echo "FAIL: --shared-verify changed the outcome"; exit 1; }
echo "ok: identical outcomes"
